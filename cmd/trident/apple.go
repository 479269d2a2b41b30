package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/tridentmdm/trident/api"
	"github.com/tridentmdm/trident/protocols/apple"
	"github.com/tridentmdm/trident/protocols/apple/mdmstore"
	"github.com/tridentmdm/trident/tenancy"
)

// appleAPI adapts the Apple edge to what the API asks of it, turning its
// errors into answers.
type appleAPI struct {
	store    *mdmstore.Store
	profiles *apple.Profiles
}

func (a appleAPI) StorePushCert(ctx context.Context, certPEM, keyPEM []byte) error {
	err := a.store.StorePushCert(ctx, certPEM, keyPEM)
	if errors.Is(err, mdmstore.ErrBadPushCert) {
		return &api.ClientError{Status: http.StatusUnprocessableEntity, Message: err.Error()}
	}
	return err
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
