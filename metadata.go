package ttrpc

import (
	"context"
	"strings"
)

// MD is the metadata of a call: keys (always lower case) mapped to lists of
// values. It travels with the request as key/value pairs.
type MD map[string][]string

// Get returns the values stored under key, and false if there are none.
func (m MD) Get(key string) ([]string, bool) {
	list, ok := m[strings.ToLower(key)]
	if !ok || len(list) == 0 {
		return nil, false
	}
	return list, true
}

// Set replaces the values stored under key. With no values it removes key.
func (m MD) Set(key string, values ...string) {
	key = strings.ToLower(key)
	if len(values) == 0 {
		delete(m, key)
		return
	}
	m[key] = values
}

// Append adds values after those already stored under key.
func (m MD) Append(key string, values ...string) {
	if len(values) == 0 {
		return
	}
	key = strings.ToLower(key)
	current := m[key]
	// Cut the capacity so that append copies: current may share its backing
	// array with a slice the caller handed to Set.
	m[key] = append(current[:len(current):len(current)], values...)
}

// Clone returns a copy of m that shares no map or slice with it, so that
// either may be changed without affecting the other. A nil m gives nil.
func (m MD) Clone() MD {
	if m == nil {
		return nil
	}
	c := make(MD, len(m))
	for k, v := range m {
		c[k] = append([]string(nil), v...)
	}
	return c
}

// appendKeyValues adds m's entries to list as wire key/value pairs.
func (m MD) appendKeyValues(list []*KeyValue) []*KeyValue {
	for k, values := range m {
		for _, v := range values {
			list = append(list, &KeyValue{Key: k, Value: v})
		}
	}
	return list
}

type metadataKey struct{}

// WithMetadata returns a context carrying md; a client call made with it sends
// md to the server.
func WithMetadata(ctx context.Context, md MD) context.Context {
	return context.WithValue(ctx, metadataKey{}, md)
}

// GetMetadata returns the metadata stored in ctx, if any. On a server it holds
// what the caller sent.
func GetMetadata(ctx context.Context) (MD, bool) {
	md, ok := ctx.Value(metadataKey{}).(MD)
	return md, ok
}

// GetMetadataValue returns the first value stored under name in ctx's
// metadata.
func GetMetadataValue(ctx context.Context, name string) (string, bool) {
	md, ok := GetMetadata(ctx)
	if !ok {
		return "", false
	}
	if list, ok := md.Get(name); ok {
		return list[0], true
	}
	return "", false
}
