package workers

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/tridentmdm/trident/services/events"
)

// deliverWorker sends one webhook. A failed attempt returns an error, so
// River retries it with its backoff; the last attempt marks the delivery
// failed.
type deliverWorker struct {
	river.WorkerDefaults[events.DeliverArgs]
	sender *events.Sender
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[events.DeliverArgs]) error {
	return w.sender.Deliver(ctx, job.Args.DeliveryID, job.Attempt >= job.MaxAttempts)
}

func (w *deliverWorker) Timeout(*river.Job[events.DeliverArgs]) time.Duration { return time.Minute }
