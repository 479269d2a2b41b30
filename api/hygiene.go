package api

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// maxBody bounds every operation's request body, raw bodies included
// (huma bounds only operations with a Body field by default): 413 above.
const maxBody = 1 << 20

// withCleanInput drops the forwarding headers huma would echo, and
// refuses, before any query, input PostgreSQL cannot hold:
// a NUL or bytes that are not UTF-8 in the path, the query or a JSON
// body's strings. Such a request is a caller's mistake (400), never a
// server error and an ERROR log line that any token could raise.
func (a *API) withCleanInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// huma builds $schema links from these when present: a caller's
		// header must not choose the host Trident's answers name. The
		// request's Host is the platform's own (it was routed by it).
		r.Header.Del("X-Forwarded-Host")
		r.Header.Del("Forwarded")
		if bad(r.URL.Path) || bad(r.URL.RawQuery) {
			refuseInput(w, http.StatusBadRequest, "the path or query holds a NUL or bytes that are not UTF-8")
			return
		}
		for _, vs := range r.URL.Query() {
			for _, v := range vs {
				if bad(v) {
					refuseInput(w, http.StatusBadRequest, "a query parameter holds a NUL or bytes that are not UTF-8")
					return
				}
			}
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Body != nil &&
			(mt == "" || mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			r.Body.Close()
			if err != nil {
				refuseInput(w, http.StatusBadRequest, "the body could not be read")
				return
			}
			if len(b) > maxBody {
				refuseInput(w, http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
				return
			}
			if !utf8.Valid(b) || hasNUL(b) {
				refuseInput(w, http.StatusBadRequest, "the JSON body holds a NUL (\\u0000) or bytes that are not UTF-8")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, r)
	})
}

// bad is a NUL or bytes that are not UTF-8, decoded or %-escaped.
func bad(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsRune(s, 0) || strings.Contains(strings.ToLower(s), "%00")
}

// hasNUL reports a NUL in a JSON text: raw, or escaped as \u0000 in a
// string (an escaped backslash before "u0000" is not one).
func hasNUL(b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	for i := 0; i+6 <= len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] == '\\' {
			i++ // an escaped backslash
			continue
		}
		if b[i+1] == 'u' && string(b[i+2:i+6]) == "0000" {
			return true
		}
	}
	return false
}

func refuseInput(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
}
