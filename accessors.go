package ttrpc

import spb "google.golang.org/genproto/googleapis/rpc/status"

// Accessors of the 1.2 API. Each is safe on a nil receiver, returning the
// field's zero value.

// GetService returns r.Service, or "" when r is nil.
func (r *Request) GetService() string {
	if r == nil {
		return ""
	}
	return r.Service
}

// GetMethod returns r.Method, or "" when r is nil.
func (r *Request) GetMethod() string {
	if r == nil {
		return ""
	}
	return r.Method
}

// GetPayload returns r.Payload, or nil when r is nil.
func (r *Request) GetPayload() []byte {
	if r == nil {
		return nil
	}
	return r.Payload
}

// GetTimeoutNano returns r.TimeoutNano, or 0 when r is nil.
func (r *Request) GetTimeoutNano() int64 {
	if r == nil {
		return 0
	}
	return r.TimeoutNano
}

// GetMetadata returns r.Metadata, or nil when r is nil.
func (r *Request) GetMetadata() []*KeyValue {
	if r == nil {
		return nil
	}
	return r.Metadata
}

// GetStatus returns r.Status, or nil when r is nil.
func (r *Response) GetStatus() *spb.Status {
	if r == nil {
		return nil
	}
	return r.Status
}

// GetPayload returns r.Payload, or nil when r is nil.
func (r *Response) GetPayload() []byte {
	if r == nil {
		return nil
	}
	return r.Payload
}

// GetList returns l.List, or nil when l is nil.
func (l *StringList) GetList() []string {
	if l == nil {
		return nil
	}
	return l.List
}

// GetKey returns kv.Key, or "" when kv is nil.
func (kv *KeyValue) GetKey() string {
	if kv == nil {
		return ""
	}
	return kv.Key
}

// GetValue returns kv.Value, or "" when kv is nil.
func (kv *KeyValue) GetValue() string {
	if kv == nil {
		return ""
	}
	return kv.Value
}
