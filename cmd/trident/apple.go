package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/micromdm/nanomdm/cryptoutil"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/dashboard"
	"github.com/tridentmdm/trident/protocols/apple"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/tenancy"
)

// appleAPI adapts the Apple edge to what the API asks of it, turning its
// errors into answers.
type appleAPI struct {
	store    *mdmstore.Store
	profiles *apple.Profiles
	requests *apple.PushRequests
}

func (a appleAPI) StorePushCert(ctx context.Context, certPEM, keyPEM []byte, replaceTopic bool) error {
	unusable := func(err error) error {
		if errors.Is(err, mdmstore.ErrBadPushCert) {
			return &api.ClientError{Status: http.StatusUnprocessableEntity, Message: err.Error()}
		}
		return err
	}
	topic, err := cryptoutil.TopicFromPEMCert(certPEM)
	if err != nil {
		return unusable(fmt.Errorf("%w: the certificate names no APNs topic (%v)", mdmstore.ErrBadPushCert, err))
	}
	current, err := a.store.PushCerts(ctx)
	if err != nil {
		return err
	}
	if len(current) > 0 && current[0].Topic != topic && !replaceTopic {
		return &api.ClientError{Status: http.StatusConflict, Message: fmt.Sprintf(
			"the certificate's topic %s is not the tenant's %s: devices enrolled under it would get no more pushes. "+
				"Renew the existing certificate in Apple's portal (it keeps the topic), or set replace_topic", topic, current[0].Topic)}
	}
	if len(keyPEM) == 0 {
		if keyPEM, err = a.store.PendingPushKey(ctx, certPEM); err != nil {
			return unusable(err)
		}
	}
	return unusable(a.store.StorePushCert(ctx, certPEM, keyPEM))
}

func (a appleAPI) RequestPushCert(ctx context.Context, t tenancy.Tenant) (api.PushCertRequest, error) {
	r, err := a.requests.Request(ctx, t)
	out := api.PushCertRequest{RequestFile: r.RequestFile, CSR: r.CSR}
	if r.RequestFile != "" {
		out.NextStep = "Save request_file's text as a file (it is already the base64 form Apple expects), upload it at Apple's Push Certificates Portal, then PUT the issued certificate without a key."
	} else {
		out.NextStep = "This server has no MDM vendor certificate: have an MDM vendor sign the CSR, upload the signed request at Apple's Push Certificates Portal, then PUT the issued certificate without a key."
	}
	return out, err
}

func (a appleAPI) PushCertificates(ctx context.Context) ([]api.PushCertificate, error) {
	certs, err := a.store.PushCerts(ctx)
	out := make([]api.PushCertificate, len(certs))
	for i, c := range certs {
		out[i] = api.PushCertificate{Topic: c.Topic, NotAfter: c.NotAfter, UpdatedAt: c.UpdatedAt}
	}
	return out, err
}

func (a appleAPI) Enrollment(ctx context.Context, t tenancy.Tenant) ([]byte, error) {
	b, err := a.profiles.Enrollment(ctx, t)
	if errors.Is(err, apple.ErrNoPushCertificate) {
		return nil, &api.ClientError{Status: http.StatusConflict, Message: err.Error()}
	}
	return b, err
}

// appleDashboard adapts the Apple edge to what the dashboard asks of it:
// the API's adapter, with its client errors turned into the dashboard's.
type appleDashboard struct{ a appleAPI }

func dashboardError(err error) error {
	var cerr *api.ClientError
	if errors.As(err, &cerr) {
		return &dashboard.UserError{Status: cerr.Status, Message: cerr.Message}
	}
	return err
}

func (d appleDashboard) Enrollment(ctx context.Context, t tenancy.Tenant) ([]byte, error) {
	b, err := d.a.Enrollment(ctx, t)
	return b, dashboardError(err)
}

func (d appleDashboard) PushCertificate(ctx context.Context) (dashboard.PushCertificate, bool, error) {
	certs, err := d.a.PushCertificates(ctx)
	if err != nil || len(certs) == 0 {
		return dashboard.PushCertificate{}, false, err
	}
	return dashboard.PushCertificate{Topic: certs[0].Topic, NotAfter: certs[0].NotAfter, UpdatedAt: certs[0].UpdatedAt}, true, nil
}

func (d appleDashboard) StorePushCert(ctx context.Context, certPEM, keyPEM []byte, replaceTopic bool) error {
	err := dashboardError(d.a.StorePushCert(ctx, certPEM, keyPEM, replaceTopic))
	var uerr *dashboard.UserError
	if errors.As(err, &uerr) && uerr.Status == http.StatusConflict {
		uerr.Message = strings.Replace(uerr.Message, "or set replace_topic", "or tick the box to accept a new topic", 1)
	}
	return err
}

func (d appleDashboard) RequestPushCert(ctx context.Context, t tenancy.Tenant) (dashboard.PushCertRequest, error) {
	r, err := d.a.RequestPushCert(ctx, t)
	return dashboard.PushCertRequest{RequestFile: r.RequestFile, CSR: r.CSR}, dashboardError(err)
}
