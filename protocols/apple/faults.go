package apple

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/micromdm/nanomdm/mdm"
	"github.com/micromdm/nanomdm/service"
	"github.com/micromdm/nanomdm/service/certauth"

	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/services/inventory"
)

// deviceFaults wraps the MDM chain so that what a device got wrong is
// answered as such, never as a server error (on which a device retries the
// same request forever) and never 401 (on which it unenrolls): a message
// naming no enrollment, a certificate that is not the enrollment's
// (certauth), an answer to a command never queued for the device, a
// property list that cannot be kept. Each is 400, and as every answer of
// 400 or more rolls the request's transaction back (oneTransaction), it
// changes nothing. User-channel authentication, which Trident does not
// offer, is 410 as Apple's UserAuthenticate documentation asks.
type deviceFaults struct {
	next service.CheckinAndCommandService
}

var _ service.CheckinAndCommandService = deviceFaults{}

// faults are the errors that are the device's.
var faults = []error{
	certauth.ErrNoCertReuse, certauth.ErrNoCertAssoc, certauth.ErrMissingCert,
	mdmstore.ErrNotQueued, mdmstore.ErrBadPlist, errNoEnrollment,
}

var errNoEnrollment = errors.New("apple: the message names no enrollment (UDID, or EnrollmentID and EnrollmentUserID)")

func mdmStatus(err error) error {
	if err == nil {
		return nil
	}
	var status *service.HTTPStatusError
	if errors.As(err, &status) {
		return err
	}
	for _, f := range faults {
		if errors.Is(err, f) {
			return service.NewHTTPStatusError(http.StatusBadRequest, err)
		}
	}
	if errors.Is(err, inventory.ErrDeviceLimit) {
		// Refused, not failed: the device shows the profile as not
		// installed and does not retry on its own.
		return service.NewHTTPStatusError(http.StatusForbidden, err)
	}
	return err
}

// enrolled checks that a message names an enrollment nanomdm can resolve.
func enrolled(e *mdm.Enrollment) error {
	r := e.Resolved()
	if r == nil || r.Validate() != nil {
		return service.NewHTTPStatusError(http.StatusBadRequest, errNoEnrollment)
	}
	return nil
}

func (d deviceFaults) Authenticate(r *mdm.Request, m *mdm.Authenticate) error {
	if err := enrolled(&m.Enrollment); err != nil {
		return err
	}
	return mdmStatus(d.next.Authenticate(r, m))
}

func (d deviceFaults) TokenUpdate(r *mdm.Request, m *mdm.TokenUpdate) error {
	if err := enrolled(&m.Enrollment); err != nil {
		return err
	}
	return mdmStatus(d.next.TokenUpdate(r, m))
}

func (d deviceFaults) CheckOut(r *mdm.Request, m *mdm.CheckOut) error {
	if err := enrolled(&m.Enrollment); err != nil {
		return err
	}
	return mdmStatus(d.next.CheckOut(r, m))
}

func (d deviceFaults) SetBootstrapToken(r *mdm.Request, m *mdm.SetBootstrapToken) error {
	if err := enrolled(&m.Enrollment); err != nil {
		return err
	}
	return mdmStatus(d.next.SetBootstrapToken(r, m))
}

func (d deviceFaults) GetBootstrapToken(r *mdm.Request, m *mdm.GetBootstrapToken) (*mdm.BootstrapToken, error) {
	if err := enrolled(&m.Enrollment); err != nil {
		return nil, err
	}
	t, err := d.next.GetBootstrapToken(r, m)
	return t, mdmStatus(err)
}

func (d deviceFaults) UserAuthenticate(r *mdm.Request, m *mdm.UserAuthenticate) ([]byte, error) {
	if err := enrolled(&m.Enrollment); err != nil {
		return nil, err
	}
	return nil, service.NewHTTPStatusError(http.StatusGone, errors.New("apple: Trident does not authenticate user channels"))
}

func (d deviceFaults) DeclarativeManagement(r *mdm.Request, m *mdm.DeclarativeManagement) ([]byte, error) {
	if err := enrolled(&m.Enrollment); err != nil {
		return nil, err
	}
	b, err := d.next.DeclarativeManagement(r, m)
	return b, mdmStatus(err)
}

func (d deviceFaults) GetToken(r *mdm.Request, m *mdm.GetToken) (*mdm.GetTokenResponse, error) {
	if err := enrolled(&m.Enrollment); err != nil {
		return nil, err
	}
	return nil, service.NewHTTPStatusError(http.StatusBadRequest,
		fmt.Errorf("apple: Trident offers no token service %q", cut(m.TokenServiceType, 128)))
}

func (d deviceFaults) CommandAndReportResults(r *mdm.Request, res *mdm.CommandResults) (*mdm.Command, error) {
	if err := enrolled(&res.Enrollment); err != nil {
		return nil, err
	}
	c, err := d.next.CommandAndReportResults(r, res)
	return c, mdmStatus(err)
}

// cut bounds a device-supplied string for an error or a log line.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
