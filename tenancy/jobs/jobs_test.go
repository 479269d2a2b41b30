package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/riverqueue/river"
)

type noop struct{}

func (noop) Kind() string { return "test.noop" }

// Outside a worker, and before the process has its client, enqueueing
// fails with ErrNoClient instead of panicking (River's ClientFromContext
// would) or dropping the job.
func TestNoClient(t *testing.T) {
	ctx := context.Background()
	if err := Insert(ctx, nil, river.InsertManyParams{Args: noop{}}); !errors.Is(err, ErrNoClient) {
		t.Errorf("Insert outside a worker: %v, want ErrNoClient", err)
	}
	if err := InsertMany(ctx, []river.InsertManyParams{{Args: noop{}}}); !errors.Is(err, ErrNoClient) {
		t.Errorf("InsertMany outside a worker: %v, want ErrNoClient", err)
	}
	var late Late
	if _, err := late.InsertManyTx(ctx, nil, []river.InsertManyParams{{Args: noop{}}}); !errors.Is(err, ErrNoClient) {
		t.Errorf("Late before Set: %v, want ErrNoClient", err)
	}
}
