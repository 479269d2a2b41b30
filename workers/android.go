package workers

import (
	"context"
	"errors"

	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/android"
	"github.com/tridentmdm/trident/tenancy"
)

var errNoAndroid = errors.New("android: this process does not run Android jobs")

// androidDone ends a job whose work is gone (the policy deleted, the
// enterprise unbound) without retries, and turns Google's quota answers
// into snoozes, noting them for the console.
func androidDone(ctx context.Context, svc *android.Service, err error) error {
	if errors.Is(err, tenancy.ErrNotFound) || errors.Is(err, android.ErrNotBound) {
		return nil
	}
	err = svc.NoteQuota(ctx, err) // for the console
	var ge *android.GoogleError
	if errors.As(err, &ge) && !ge.Retryable() {
		return river.JobCancel(err) // Google refused it: retrying cannot help
	}
	return android.Snooze(err)
}

type androidPublishWorker struct {
	river.WorkerDefaults[android.PublishArgs]
	svc *android.Service
}

func (w *androidPublishWorker) Work(ctx context.Context, job *river.Job[android.PublishArgs]) error {
	if w.svc == nil {
		return errNoAndroid
	}
	_, err := w.svc.Publish(ctx, job.Args.PolicyID)
	return androidDone(ctx, w.svc, err)
}

type androidBrandWorker struct {
	river.WorkerDefaults[android.BrandArgs]
	svc *android.Service
}

func (w *androidBrandWorker) Work(ctx context.Context, job *river.Job[android.BrandArgs]) error {
	if w.svc == nil {
		return errNoAndroid
	}
	return androidDone(ctx, w.svc, w.svc.ApplyBrand(ctx))
}

type androidApplyWorker struct {
	river.WorkerDefaults[android.ApplyArgs]
	svc *android.Service
}

func (w *androidApplyWorker) Work(ctx context.Context, job *river.Job[android.ApplyArgs]) error {
	if w.svc == nil {
		return errNoAndroid
	}
	_, err := w.svc.Apply(ctx, job.Args.PolicyID)
	return androidDone(ctx, w.svc, err)
}

type androidSyncWorker struct {
	river.WorkerDefaults[android.SyncArgs]
	svc *android.Service
}

func (w *androidSyncWorker) Work(ctx context.Context, job *river.Job[android.SyncArgs]) error {
	if w.svc == nil {
		return errNoAndroid
	}
	_, err := w.svc.Sync(ctx)
	return androidDone(ctx, w.svc, err)
}
