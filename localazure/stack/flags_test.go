package stack_test

import (
	"flag"
	"testing"
)

// flagParse parses the test flags in TestMain, where testing.Short needs them.
func flagParse() {
	if !flag.Parsed() {
		flag.Parse()
	}
	_ = testing.Short
}
