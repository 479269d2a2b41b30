package pgcluster

import (
	"net/url"
)

// WithDatabase returns connURL pointing at database db.
func WithDatabase(connURL, db string) string {
	u, err := url.Parse(connURL)
	if err != nil {
		return connURL
	}
	u.Path = "/" + db
	return u.String()
}

// WithUser returns connURL connecting as user with password.
func WithUser(connURL, user, password string) string {
	u, err := url.Parse(connURL)
	if err != nil {
		return connURL
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}
