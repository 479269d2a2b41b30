package apple

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/micromdm/plist"
	"github.com/smallstep/pkcs7"

	"github.com/tridentmdm/trident/services/dep"
	"github.com/tridentmdm/trident/tenancy"
)

// MachineInfo is what a device in Setup Assistant sends the ADE profile's
// URL: a plist signed (CMS) with its device identity (Apple's "Device
// Assignment: Machine info").
type MachineInfo struct {
	UDID                     string `plist:"UDID"`
	Serial                   string `plist:"SERIAL"`
	Product                  string `plist:"PRODUCT"`
	Version                  string `plist:"VERSION"`
	OSVersion                string `plist:"OS_VERSION"`
	IMEI                     string `plist:"IMEI"`
	MEID                     string `plist:"MEID"`
	Language                 string `plist:"LANGUAGE"`
	SoftwareUpdateDeviceID   string `plist:"SOFTWARE_UPDATE_DEVICE_ID"`
	SupplementalBuildVersion string `plist:"SUPPLEMENTAL_BUILD_VERSION"`
}

// MachineInfoHeader carries the machine info, base64, when the device
// loads a configuration web URL instead of posting it.
const MachineInfoHeader = "X-Apple-Aspen-Deviceinfo"

var (
	serialPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	udidPattern   = regexp.MustCompile(`^[A-Fa-f0-9-]{8,64}$`)
)

// ErrMachineInfo refuses a machine-info request.
var ErrMachineInfo = errors.New("not a signed machine-info request")

// ParseMachineInfo reads a device's signed machine info. The CMS
// signature must verify; with roots (Apple's device CA) the signer must
// also chain to them.
func ParseMachineInfo(raw []byte, roots *x509.CertPool) (info MachineInfo, err error) {
	defer func() {
		if r := recover(); r != nil { // the CMS parser is not ours: a hostile body must not take the server down
			info, err = MachineInfo{}, fmt.Errorf("%w: unreadable CMS", ErrMachineInfo)
		}
	}()
	p7, err := pkcs7.Parse(raw)
	if err != nil {
		return info, fmt.Errorf("%w: %v", ErrMachineInfo, err)
	}
	if len(p7.Signers) == 0 || len(p7.Certificates) == 0 {
		return info, fmt.Errorf("%w: it is not signed", ErrMachineInfo)
	}
	if roots != nil {
		err = p7.VerifyWithChain(roots)
	} else {
		err = p7.Verify()
	}
	if err != nil {
		return info, fmt.Errorf("%w: the signature does not verify: %v", ErrMachineInfo, err)
	}
	if err := plist.Unmarshal(p7.Content, &info); err != nil {
		return info, fmt.Errorf("%w: the content is not a plist: %v", ErrMachineInfo, err)
	}
	if !serialPattern.MatchString(info.Serial) || !udidPattern.MatchString(info.UDID) {
		return info, fmt.Errorf("%w: it lacks a valid SERIAL and UDID", ErrMachineInfo)
	}
	return info, nil
}

// ADEEnrollments are the ABM devices the tenant may enroll.
type ADEEnrollments interface {
	Device(ctx context.Context, serial string) (dep.Device, error)
	Enrolling(ctx context.Context, serial, udid string) (dep.Device, error)
}

// Enroller makes a tenant's enrollment profile.
type Enroller interface {
	Enrollment(ctx context.Context, t tenancy.Tenant) ([]byte, error)
}

// ADE is the endpoint named in the tenant's ADE profiles: a device in
// Setup Assistant posts its signed machine info, and a device the
// tenant's ABM servers have gets the tenant's enrollment profile.
type ADE struct {
	dir     *tenancy.Directory
	devices ADEEnrollments
	profile Enroller
	roots   *x509.CertPool
	log     *slog.Logger
}

// NewADE returns the ADE enrollment endpoint. roots, when not nil, are
// the CAs device identities must chain to (Apple's iPhone Device CA
// root); without them only the signature itself is checked, and the
// serial number must still be one of the tenant's ABM devices.
func NewADE(dir *tenancy.Directory, devices ADEEnrollments, profile Enroller, roots *x509.CertPool, log *slog.Logger) *ADE {
	return &ADE{dir: dir, devices: devices, profile: profile, roots: roots, log: log}
}

func (a *ADE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, ok := tenancy.FromContext(ctx)
	if !ok {
		http.NotFound(w, r)
		return
	}
	var raw []byte
	var err error
	switch {
	case r.Method == http.MethodPost:
		raw, err = io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	case r.Method == http.MethodGet && r.Header.Get(MachineInfoHeader) != "":
		raw, err = base64.StdEncoding.DecodeString(r.Header.Get(MachineInfoHeader))
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "send the device's signed machine info (POST, or GET with "+MachineInfoHeader+")", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		http.Error(w, "unreadable request body", http.StatusBadRequest)
		return
	}
	info, err := ParseMachineInfo(raw, a.roots)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, err = a.devices.Device(ctx, info.Serial)
	if errors.Is(err, tenancy.ErrNotFound) {
		a.log.InfoContext(ctx, "ADE enrollment from a device the tenant's ABM servers do not have", "serial", info.Serial)
		http.Error(w, dep.ErrNotADEDevice.Error(), http.StatusForbidden)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.dir.Tenant(ctx, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	profile, err := a.profile.Enrollment(ctx, t)
	if errors.Is(err, ErrNoPushCertificate) {
		http.Error(w, "this organization has not finished setting up device management; try again later", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := a.devices.Enrolling(ctx, info.Serial, info.UDID); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-apple-aspen-config")
	w.Write(profile)
}

func (a *ADE) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "ADE enrollment", "err", err)
	http.Error(w, "enrollment is unavailable; try again", http.StatusServiceUnavailable)
}
