package mdmstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/micromdm/nanomdm/mdm"

	"github.com/tridentmdm/trident/services/commands"
	"github.com/tridentmdm/trident/services/inventory"
)

// Placeholder checks that c renders for its device and returns what the
// queue keeps of it: its CommandUUID and RequestType only. unlockToken
// reads the device's escrowed UnlockToken, for the commands that carry it.
type Placeholder func(c commands.Command, unlockToken func() ([]byte, error)) (*mdm.Command, error)

// Queue is nanomdm's queue as Trident's command queue fills it: the
// commands.Dispatcher and commands.Withdrawer of Apple devices, which
// run in the transaction that queues or ends the command.
//
// What the queue keeps is only the command's place and type: the command
// the device gets is rendered again when it is handed out, from
// Trident's command, so a canceled or expired one is never sent and a
// secret (a PIN, a profile, the UnlockToken) is never stored in plain.
type Queue struct{ Placeholder Placeholder }

var (
	_ commands.Dispatcher = Queue{}
	_ commands.Withdrawer = Queue{}
)

// Dispatch implements commands.Dispatcher: it checks that c renders for
// d, then queues its placeholder.
func (q Queue) Dispatch(ctx context.Context, tx pgx.Tx, d inventory.Device, c commands.Command) error {
	p, err := q.Placeholder(c, func() ([]byte, error) { return UnlockToken(ctx, tx, d.Identifier) })
	if err != nil {
		return err
	}
	return Enqueue(ctx, tx, []string{d.Identifier}, p)
}

// Withdraw implements commands.Withdrawer: a canceled or expired command
// leaves the device's queue.
func (q Queue) Withdraw(ctx context.Context, tx pgx.Tx, d inventory.Device, c commands.Command) error {
	return Withdraw(ctx, tx, d.Identifier, c.ID.String())
}

// UnlockToken returns the device's escrowed UnlockToken, or nil, in the
// tenant transaction of ctx.
func (s *Store) UnlockToken(ctx context.Context, deviceID string) (tok []byte, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) (err error) { tok, err = UnlockToken(ctx, tx, deviceID); return })
	return tok, err
}
