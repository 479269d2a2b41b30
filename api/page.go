package api

import (
	"encoding/base64"
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"
)

// PageParams are the pagination parameters of every list.
type PageParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Items per page."`
	Cursor string `query:"cursor" maxLength:"500" doc:"Where the page starts: the next_cursor of the previous page. Opaque."`
}

// Page is a page of a list.
type Page[T any] struct {
	Items      []T    `json:"items" nullable:"false"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// encodeCursor makes an opaque cursor of a position.
func encodeCursor(pos any) string {
	b, _ := json.Marshal(pos)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor back into pos; a cursor that is not one of
// ours is the caller's error.
func decodeCursor(cursor string, pos any) error {
	if cursor == "" {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil {
		err = json.Unmarshal(b, pos)
	}
	if err != nil {
		return huma.Error422UnprocessableEntity("invalid cursor", &huma.ErrorDetail{Location: "query.cursor", Message: "not a cursor this API returned", Value: cursor})
	}
	return nil
}

// page trims items fetched with limit+1 to limit, and makes the cursor of
// the last one kept.
func page[T any](items []T, limit int, pos func(T) any) Page[T] {
	p := Page[T]{Items: items}
	if p.Items == nil {
		p.Items = []T{}
	}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = encodeCursor(pos(items[limit-1]))
	}
	return p
}
