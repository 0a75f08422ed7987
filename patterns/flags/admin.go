package flags

import (
	"context"
	"maps"
)

// Set validates and stores the definition of flag name. The name must make
// a valid KV key with the prefix (kv.ErrInvalidKey otherwise) and f must
// pass [Flag.Validate] (ErrInvalidFlag otherwise); both are checked before
// any KV call. A nil Allowlist is stored as [] so that TypeScript code
// reading allowlist.includes(...) keeps working. This Client serves the new
// definition at once; other processes see it within their cache TTL.
func (c *Client) Set(ctx context.Context, name string, f Flag) error {
	if err := c.validName(name); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	if f.Allowlist == nil {
		f.Allowlist = []string{}
	}
	if err := c.store.Put(ctx, name, f); err != nil {
		return err
	}
	c.remember(name, compile(f))
	return nil
}

// Delete removes flag name. Deleting a missing flag is not an error. This
// Client treats the flag as absent at once.
func (c *Client) Delete(ctx context.Context, name string) error {
	if err := c.validName(name); err != nil {
		return err
	}
	if err := c.store.Delete(ctx, name); err != nil {
		return err
	}
	c.remember(name, nil)
	return nil
}

// remember puts a definition this Client just wrote into its caches.
func (c *Client) remember(name string, f *compiled) {
	st := &state{flag: f, expires: c.nanos() + int64(c.ttl)}
	c.mu.Lock()
	e := c.find(name)
	if e == nil {
		e = &entry{}
	}
	e.st.Store(st)
	c.place(name, e, st)
	c.mu.Unlock()
	c.sfAll.Do("", func() (any, error) { // not while a reload is running
		s := c.all.Load()
		if s == nil || !s.loaded {
			return nil, nil
		}
		next := &snapshot{flags: maps.Clone(s.flags), expires: s.expires, loaded: true}
		if f == nil {
			delete(next.flags, name)
		} else {
			next.flags[name] = f
		}
		c.all.Store(next)
		return nil, nil
	})
}

// List reads every flag definition under the prefix, fresh from KV (one
// listing per 1,000 flags and one bulk read per 100), by name.
func (c *Client) List(ctx context.Context) (map[string]Flag, error) {
	return c.fetchAll(ctx)
}

// EvaluateAll decides every flag for userID, by name: the form to send to a
// front end. It serves the all-flags snapshot, loaded with one listing plus
// bulk reads and reused for the cache TTL. A failed reload serves the last
// snapshot; with none, it returns the error.
func (c *Client) EvaluateAll(ctx context.Context, userID string) (map[string]Decision, error) {
	s, err := c.snapshot(ctx, c.nanos())
	if err != nil {
		return nil, err
	}
	if s.err != nil && !s.loaded {
		return nil, s.err
	}
	out := make(map[string]Decision, len(s.flags))
	for name, f := range s.flags {
		out[name] = f.evaluate(name, userID)
	}
	return out, nil
}
