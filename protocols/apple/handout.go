package apple

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/plist"

	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
	"github.com/tridentmdm/trident/tenancy"
)

// handout is nanomdm's storage as nanomdm's core sees it, with one change:
// the next command nanomdm's queue offers is handed to the device only if
// Trident's command queue, the one source of truth for a command's state,
// agrees in the request's transaction (commands.Queue.Hand): a command
// canceled or expired since it was queued is taken off nanomdm's queue
// and never delivered, and the one delivered is marked sent (attempts,
// sent_at) and rendered then, from Trident's command with its secrets
// opened, so nanomdm's tables hold no secret.
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
		deliver, err := h.svc.hand(r, cmd)
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
func (s *Service) hand(r *mdm.Request, cmd *mdm.Command) (*mdm.Command, error) {
	ctx := r.Context()
	log := s.log.With("enrollment", r.ID, "command", cmd.CommandUUID)
	id, err := uuid.Parse(cmd.CommandUUID)
	if r.ParentID != "" || err != nil {
		// Trident queues commands on device channels only, with its own ids.
		log.WarnContext(ctx, "not handing out a command Trident did not queue")
		return nil, nil
	}
	var out *mdm.Command
	err = s.db.Tx(ctx, func(tx pgx.Tx) error {
		d, err := s.inv.ByIdentifier(ctx, tx, inventory.Apple, r.ID)
		if errors.Is(err, tenancy.ErrNotFound) {
			log.WarnContext(ctx, "not handing out a command: the enrollment has no device")
			return nil
		}
		if err != nil {
			return err
		}
		c, err := s.cmds.Hand(ctx, tx, d.ID, id)
		switch {
		case errors.Is(err, commands.ErrState), errors.Is(err, tenancy.ErrNotFound), errors.Is(err, commands.ErrForeign):
			log.InfoContext(ctx, "not handing out a command that is no longer waiting", "err", err)
			return nil
		case err != nil:
			return err
		}
		b, err := body(ctx, tx, d, c)
		if err == nil {
			out, err = encode(c, b)
		}
		if err != nil {
			// Checked when it was queued; what changed since (an UnlockToken
			// gone) ends the command here.
			_, cerr := s.cmds.CompleteTx(ctx, tx, d.ID, c.ID, commands.Outcome{Status: commands.Error, Error: err.Error()})
			log.WarnContext(ctx, "a command could not be rendered for its device", "err", err)
			return cerr
		}
		return nil
	})
	return out, err
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
