// Package labs runs the workshop labs of docs/labs.md against the local stack, so
// that a change to the labs, the app or localazure that breaks a lab fails
// `make test` (issue 13).
//
// It lives in the deploy module because docs/ is no module and deploy is where the
// repository's documents are already checked against what they describe
// (deployment.md against Bicep, names.md against every layer); deploy already
// depends on localazure, whose Azurite check decides whether the labs can run.
//
// # What runs
//
// Every "## Lab" section of docs/labs.md is one lab. Its fenced sh blocks run in
// order with `bash -euo pipefail`, in a fresh workshop directory of its own (see
// [NewWorkshop]): the repository's modules linked in read-only, a copy of
// localazure.json, bin/ holding the binaries the test built once, and a Makefile and
// scripts/run-local.sh that do what the repository's do after their install and
// build steps (`bin/localazure up --exec frontend=bin/frontend --exec
// backend=bin/backend` plus the arguments). So a block says `make run`, `bin/...` and
// `.localazure/...` exactly as a participant types it in a clone, the launcher's
// state is the workshop's .localazure/, and nothing is written into the repository.
//
// The foreground blocks of a lab are one terminal (the participant's second one):
// shell variables a block assigns are there in the next blocks. Background blocks
// (`make run`) are the first terminal: they get the test's environment only.
// Every block gets LOCALAZURE_PORT_OFFSET, a random offset the runner chose so that
// labs run next to other tests (a start refused with "ports are taken" is retried on
// another offset), and APP, the frontend's URL from the launcher's latest
// "ready — open <url>" line, without the trailing slash.
//
// Other fences (json, plain) are for the reader and are not run.
//
// # Markers
//
// Markers are one-line HTML comments `<!-- lab: KIND ARGS -->`, which a rendered page
// does not show; ARGS are words split as a shell does (double or single quotes).
// Block markers apply to the next fenced block (several may stack):
//
//	background [NAME]      start the block and keep it running (default name: run)
//	wait-for "TEXT" [D]    background: go on once its output has TEXT (within D, default 90s)
//	expect "TEXT"          the output has TEXT (a background's: when it is stopped or finished)
//	expect-re "RE"         the output matches the Go regular expression RE
//	reject "TEXT"          the output does not have TEXT
//	exit N                 the exit status is N (default 0)
//	until D                run the block again every second until it passes, for up to D
//	timeout D              a foreground block's bound (default 2m)
//	replace "OLD" "NEW" [WHY]
//	                       run the block with OLD (which must occur exactly once) replaced
//	                       by NEW: the one way a command is changed, e.g. a shorter
//	                       -duration, and visible in the source of the page
//	vars                   the block only assigns variables the runner sets itself (APP):
//	                       not run; each value must be the runner's with the port offset
//	                       taken away, so the page's default address is checked
//	azure ["WHY"]          not run: needs Azure
//	manual "WHY"           not run: cannot be automated faithfully, and why
//
// Step markers stand alone and act where they are:
//
//	stop [NAME]            Ctrl-C: SIGINT to the background's process group, wait for it
//	                       to end, check its expect markers
//	finish NAME [D]        wait for the background to end by itself (default 2m), check
//	                       its exit status and expect markers
//	log [NAME] "TEXT" [D]  the running background's output shows TEXT (within D, default 60s)
//	sleep D                wait, e.g. for a refresh interval the lab asks the reader to wait
//	restore FILE           put FILE back as the repository has it (the reader's
//	                       `git checkout FILE`)
//	edit FILE OP PATH [VALUE]
//	                       change the workshop's copy of a JSON file, as the reader does
//	                       in an editor. PATH is dot-separated members, an array element
//	                       chosen by its fields: LocalAzure.roleAssignments[principal=frontend,scope=storage/receipts].
//	                       OP remove: delete that array element (exactly one must match);
//	                       set: set the member to the JSON VALUE; merge: add the members
//	                       of the next fenced block (a fragment such as
//	                       `"federatedCredentials": [...]`) to the object at PATH
//	known-issue "TEXT"     a bug the lab is written around; the runner logs it
//
// A failure names the lab, the line, the block, its output and the expectation that
// was not met.
package labs
