package sandbox

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestExec: the timeout bounds only the command's own context; other
// errors and any deadline of the caller's are not a command timeout.
func TestExec(t *testing.T) {
	failed := errors.New("router down")
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	for _, tc := range []struct {
		name       string
		ctx        context.Context
		timeout    time.Duration
		execute    func(ctx context.Context) (*Result, error)
		wantResult *Result
		wantErr    string
	}{{
		name: "no timeout: no deadline", ctx: context.Background(),
		execute: func(ctx context.Context) (*Result, error) {
			if _, ok := ctx.Deadline(); ok {
				t.Error("a deadline without a timeout")
			}
			return &Result{Stdout: "ok", ExitCode: 2}, nil
		},
		wantResult: &Result{Stdout: "ok", ExitCode: 2},
	}, {
		name: "a timeout is a deadline", ctx: context.Background(), timeout: time.Hour,
		execute: func(ctx context.Context) (*Result, error) {
			if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > time.Hour {
				t.Errorf("deadline %v, %v", dl, ok)
			}
			return &Result{}, nil
		},
		wantResult: &Result{},
	}, {
		name: "another error", ctx: context.Background(), timeout: time.Hour,
		execute: func(context.Context) (*Result, error) { return nil, failed },
		wantErr: "router down",
	}, {
		name: "the caller's deadline, no timeout", ctx: expired,
		execute: func(ctx context.Context) (*Result, error) { return nil, ctx.Err() },
		wantErr: "context deadline exceeded",
	}, {
		name: "the caller's deadline first", ctx: expired, timeout: time.Hour,
		execute: func(ctx context.Context) (*Result, error) { return nil, ctx.Err() },
		wantErr: "context deadline exceeded",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &fakeRuntime{t: t, execute: func(ctx context.Context, cmd Command) (*Result, error) {
				if !reflect.DeepEqual(cmd.Argv, []string{"cmd", "arg"}) {
					t.Errorf("argv %q", cmd.Argv)
				}
				return tc.execute(ctx)
			}}
			res, err := execute(tc.ctx, rt, Command{Argv: []string{"cmd", "arg"}}, tc.timeout)
			if tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) || tc.wantErr == "" && err != nil || !reflect.DeepEqual(res, tc.wantResult) {
				t.Fatalf("got %+v, %v; want %+v, %q", res, err, tc.wantResult, tc.wantErr)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	failed := errors.New("router down")
	for _, tc := range []struct {
		name    string
		res     *Result
		err     error
		wantErr string
	}{
		{"exit 0", &Result{Stderr: "warning\n"}, nil, ""},
		{"exit 1, first line of stderr", &Result{Stderr: "first\nsecond\n", ExitCode: 1}, nil, "making x in the sandbox: exit code 1: first"},
		{"exit 2, no stderr", &Result{ExitCode: 2}, nil, "making x in the sandbox: exit code 2: "},
		{"no answer", nil, failed, "router down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &fakeRuntime{t: t, execute: func(_ context.Context, cmd Command) (*Result, error) {
				if !reflect.DeepEqual(cmd.Argv, []string{"make", "x"}) {
					t.Errorf("argv %q", cmd.Argv)
				}
				return tc.res, tc.err
			}}
			err := Check(context.Background(), rt, "making x", "make", "x")
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
