package harness

import (
	"context"
	"errors"
)

// cleanups stops what a system's start has started so far, last first, so a start that fails
// half-way leaves nothing running and a system's Stop undoes its start in reverse.
type cleanups []func(context.Context) error

// add registers f to run on stop.
func (c *cleanups) add(f func(context.Context) error) { *c = append(*c, f) }

// run stops everything registered, last first, and joins the errors.
func (c *cleanups) run(ctx context.Context) error {
	var errs []error
	for i := len(*c) - 1; i >= 0; i-- {
		errs = append(errs, (*c)[i](ctx))
	}
	return errors.Join(errs...)
}
