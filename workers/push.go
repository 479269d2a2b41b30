package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/push"
)

// applePushWorker wakes Apple devices. Transient APNs failures fail the
// job, so River retries it (pushing twice only wakes a device twice);
// permanent ones are logged and dropped.
type applePushWorker struct {
	river.WorkerDefaults[push.AppleArgs]
	apns *push.APNs
	log  *slog.Logger
}

func (w *applePushWorker) Work(ctx context.Context, job *river.Job[push.AppleArgs]) error {
	if w.apns == nil {
		return errors.New("push: this process has no APNs configured")
	}
	failed, err := w.apns.Push(ctx, job.Args.Enrollments)
	if err != nil {
		return err
	}
	var retry []error
	for id, ferr := range failed {
		if errors.Is(ferr, push.ErrPermanent) {
			w.log.WarnContext(ctx, "APNs refused a push for good", "enrollment", id, "err", ferr)
			continue
		}
		retry = append(retry, ferr)
	}
	if len(retry) > 0 {
		return fmt.Errorf("push: %w", errors.Join(retry...))
	}
	return nil
}
