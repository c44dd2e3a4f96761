package stackconfig

import (
	"errors"
	"fmt"
)

// FieldError is one problem in the file: which field, what is wrong, and the fix.
type FieldError struct {
	File    string // file name as given to the user, e.g. "localazure.json"
	Field   string // path from the top of the file, e.g. "LocalAzure.roleAssignments[2].role"
	Problem string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.File + ": " + e.Problem
	}
	return e.File + ": " + e.Field + ": " + e.Problem
}

// problems collects every error of a file so the user can fix them in one go.
type problems struct {
	file string
	errs []error
}

func (p *problems) add(field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{File: p.file, Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error { return errors.Join(p.errs...) }
