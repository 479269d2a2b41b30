package apple

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/commands"
)

// handout is nanomdm's storage as nanomdm's core sees it, with one change:
// the next command nanomdm's queue offers is handed to the device only if
// Trident's command queue, the one source of truth for a command's state,
// agrees in the request's transaction (enrollment.Apple.HandOut): a
// command canceled or expired since it was queued is taken off nanomdm's
// queue and never delivered, and the one delivered is marked sent
// (attempts, sent_at) and rendered then, from Trident's command with its
// secrets opened, so nanomdm's tables hold no secret.
type handout struct {
	*mdmstore.Store
	svc *Service
}

// maxSkipped bounds how many undeliverable commands one request clears.
const maxSkipped = 100

func (h handout) RetrieveNextCommand(r *mdm.Request, skipNotNow bool) (*mdm.Command, error) {
	for range maxSkipped {
		cmd, err := h.Store.RetrieveNextCommand(r, skipNotNow)
		if err != nil || cmd == nil {
			return cmd, err
		}
		deliver, err := h.hand(r, cmd)
		if errors.Is(err, commands.ErrHeld) {
			return nil, nil // the tenant is suspended: the queue waits as it is
		}
		if err != nil {
			return nil, err
		}
		if deliver != nil {
			return deliver, nil
		}
		if err := h.Store.Skip(r, cmd.CommandUUID); err != nil {
			return nil, err
		}
	}
	return nil, nil // the rest at the next check-in
}

// hand asks Trident's queue whether cmd may go to the request's device now
// and returns it as the device gets it, or nil when it may not.
func (h handout) hand(r *mdm.Request, cmd *mdm.Command) (*mdm.Command, error) {
	ctx := r.Context()
	log := h.svc.log.With("enrollment", r.ID, "command", cmd.CommandUUID)
	id, err := uuid.Parse(cmd.CommandUUID)
	if r.ParentID != "" || err != nil {
		// Trident queues commands on device channels only, with its own ids.
		log.WarnContext(ctx, "not handing out a command Trident did not queue")
		return nil, nil
	}
	out, skipped, err := h.svc.apple.HandOut(ctx, r.ID, id)
	if err != nil {
		return nil, err
	}
	if skipped != nil {
		log.InfoContext(ctx, "not handing out a command that is no longer waiting", "err", skipped)
		return nil, nil
	}
	deliver, err := Render(out.Command, func() ([]byte, error) { return h.Store.UnlockToken(ctx, r.ID) })
	if err != nil {
		// Checked when it was queued; what changed since (an UnlockToken
		// gone) ends the command here.
		log.WarnContext(ctx, "a command could not be rendered for its device", "err", err)
		return nil, h.svc.apple.Undeliverable(ctx, out, err)
	}
	return deliver, nil
}

type command struct {
	CommandUUID string
	Command     map[string]any
}

// encode is the MDM command the device gets for c.
func encode(c commands.Command, body map[string]any) (*mdm.Command, error) {
	raw, err := plist.MarshalIndent(command{CommandUUID: c.ID.String(), Command: body}, "  ")
	if err != nil {
		return nil, fmt.Errorf("apple: encode %s: %w", c.Kind, err)
	}
	cmd, err := mdm.DecodeCommand(raw)
	if err != nil {
		return nil, fmt.Errorf("apple: encode %s: %w", c.Kind, err)
	}
	return cmd, nil
}
