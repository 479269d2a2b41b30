package push

import (
	"context"
	"errors"
	"fmt"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

// AppleWaker wakes Apple devices through APNs, for command delivery.
type AppleWaker struct{ APNs *APNs }

var _ commands.Waker = AppleWaker{}

// Wake pushes the device. A permanent APNs refusal is
// commands.ErrUnreachable: the command then waits for the device's own
// next check-in.
func (w AppleWaker) Wake(ctx context.Context, d inventory.Device) error {
	failed, err := w.APNs.Push(ctx, []string{d.Identifier})
	if err != nil {
		return err
	}
	if e := failed[d.Identifier]; e != nil {
		if errors.Is(e, ErrPermanent) {
			return fmt.Errorf("%w: %v", commands.ErrUnreachable, e)
		}
		return e
	}
	return nil
}
