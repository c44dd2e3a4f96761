package config

import "errors"

// ExitConfig is the exit status of a service that stops because its configuration
// is wrong: EX_CONFIG from sysexits(3). A supervisor such as `localazure up` reads
// it as "a restart cannot help": it does not restart the service, and says why.
const ExitConfig = 78

// ExitCode is the process exit status for the error a service's run returned:
// ExitConfig for a configuration error (*Error), 1 for anything else, 0 for nil.
func ExitCode(err error) int {
	var ce *Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		return ExitConfig
	default:
		return 1
	}
}
