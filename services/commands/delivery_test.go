package commands_test

import (
	"testing"
	"time"

	"github.com/tridentmdm/trident/services/commands"
)

func TestNextDelivery(t *testing.T) {
	created := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	week := created.Add(7 * 24 * time.Hour)
	cmd := func(s commands.Status, expires time.Time) commands.Command {
		return commands.Command{Status: s, CreatedAt: created, ExpiresAt: expires}
	}
	for _, c := range []struct {
		name   string
		cmd    commands.Command
		now    time.Time
		action commands.Action
		wait   time.Duration
	}{
		{"new: wake, check in a minute", cmd(commands.Queued, week), created, commands.Wake, time.Minute},
		{"sent 3 minutes ago: wake, wait 3", cmd(commands.Sent, week), created.Add(3 * time.Minute), commands.Wake, 3 * time.Minute},
		{"old: waits at most an hour", cmd(commands.Queued, week), created.Add(5 * time.Hour), commands.Wake, time.Hour},
		{"not now: no push, check the deadline hourly", cmd(commands.NotNow, week), created.Add(time.Minute), commands.Wait, time.Hour},
		{"never past the deadline", cmd(commands.Queued, created.Add(90*time.Second)), created.Add(time.Minute), commands.Wake, 31 * time.Second},
		{"deadline passed", cmd(commands.Sent, created.Add(time.Hour)), created.Add(time.Hour), commands.Expire, 0},
		{"answered", cmd(commands.Acknowledged, week), created, commands.Finished, 0},
		{"canceled", cmd(commands.Canceled, week), created, commands.Finished, 0},
		{"expired already", cmd(commands.Expired, created), created.Add(time.Hour), commands.Finished, 0},
	} {
		action, wait := commands.NextDelivery(c.cmd, c.now)
		if action != c.action || wait != c.wait {
			t.Errorf("%s: %v after %s; want %v after %s", c.name, action, wait, c.action, c.wait)
		}
	}
}
