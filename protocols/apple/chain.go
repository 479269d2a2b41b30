package apple

import (
	"log/slog"

	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/nanomdm/service"
)

// inOrder runs Trident's service after nanomdm's core, in the same
// request, instead of nanomdm's multi service: multi runs the others in
// goroutines, so a device's Authenticate and the TokenUpdate that follows
// it milliseconds later could be recorded in the wrong order (the device
// then stayed "pending"), and goroutines cannot share the request's one
// transaction. A failure of Trident's service before it touches the
// database (a check-in it cannot read) is logged, not answered: the core
// has stored the protocol state. One in the database fails the whole
// request's transaction (see oneTransaction): the device is answered 500
// and tries again, with nothing of the attempt kept.
type inOrder struct {
	core service.CheckinAndCommandService
	side *Service
	log  *slog.Logger
}

var _ service.CheckinAndCommandService = inOrder{}

func (c inOrder) after(r *mdm.Request, what string, err error, side func() error) {
	if err != nil {
		return
	}
	if serr := side(); serr != nil {
		c.log.ErrorContext(r.Context(), "record "+what, "enrollment", r.ID, "err", serr)
	}
}

func (c inOrder) Authenticate(r *mdm.Request, m *mdm.Authenticate) error {
	if err := c.side.Admit(r, &m.Enrollment); err != nil {
		return err // past the device limit: refused before the core keeps anything
	}
	err := c.core.Authenticate(r, m)
	c.after(r, "Authenticate", err, func() error { return c.side.Authenticate(r, m) })
	return err
}

func (c inOrder) TokenUpdate(r *mdm.Request, m *mdm.TokenUpdate) error {
	err := c.core.TokenUpdate(r, m)
	c.after(r, "TokenUpdate", err, func() error { return c.side.TokenUpdate(r, m) })
	return err
}

func (c inOrder) CheckOut(r *mdm.Request, m *mdm.CheckOut) error {
	err := c.core.CheckOut(r, m)
	c.after(r, "CheckOut", err, func() error { return c.side.CheckOut(r, m) })
	return err
}

func (c inOrder) SetBootstrapToken(r *mdm.Request, m *mdm.SetBootstrapToken) error {
	return c.core.SetBootstrapToken(r, m)
}

func (c inOrder) GetBootstrapToken(r *mdm.Request, m *mdm.GetBootstrapToken) (*mdm.BootstrapToken, error) {
	return c.core.GetBootstrapToken(r, m)
}

func (c inOrder) UserAuthenticate(r *mdm.Request, m *mdm.UserAuthenticate) ([]byte, error) {
	return c.core.UserAuthenticate(r, m)
}

func (c inOrder) DeclarativeManagement(r *mdm.Request, m *mdm.DeclarativeManagement) ([]byte, error) {
	return c.core.DeclarativeManagement(r, m)
}

func (c inOrder) GetToken(r *mdm.Request, m *mdm.GetToken) (*mdm.GetTokenResponse, error) {
	return c.core.GetToken(r, m)
}

func (c inOrder) CommandAndReportResults(r *mdm.Request, res *mdm.CommandResults) (*mdm.Command, error) {
	cmd, err := c.core.CommandAndReportResults(r, res)
	c.after(r, "command report", err, func() error { _, err := c.side.CommandAndReportResults(r, res); return err })
	return cmd, err
}
