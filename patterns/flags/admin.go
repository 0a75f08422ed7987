package flags

import (
	"context"
	"maps"
	"slices"
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
	c.remember(name, refOf(compile(f)))
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
	c.remember(name, ref{})
	return nil
}

// List reads every flag definition under the prefix, fresh from KV (one
// listing per 1,000 flags and one bulk read per 100), by name.
//
// A definition that cannot be decoded fails the listing (with the first
// such key, in byte order, named in the error): an admin should see it.
func (c *Client) List(ctx context.Context) (map[string]Flag, error) {
	m, bad, err := c.fetchAll(ctx)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, bad[slices.Min(slices.Collect(maps.Keys(bad)))]
	}
	out := make(map[string]Flag, len(m))
	for name, f := range m {
		out[name] = f.c.def
	}
	return out, nil
}

// EvaluateAll decides every flag for userID, by name: the form to send to a
// front end. It serves the definitions the evaluations serve (see
// [Client]). A failed reload serves the last ones; with none, it returns
// the error.
func (c *Client) EvaluateAll(ctx context.Context, userID string) (map[string]Decision, error) {
	s := c.all.Load()
	if s == nil || c.nanos() >= s.expires {
		s = c.snapshot(ctx)
	}
	if !s.loaded {
		return nil, s.err
	}
	out := make(map[string]Decision, len(s.flags)+len(s.over))
	for name, f := range s.flags {
		out[name] = f.evaluate(name, userID)
	}
	for name, f := range s.over {
		if f.c == nil {
			delete(out, name)
		} else {
			out[name] = f.evaluate(name, userID)
		}
	}
	return out, nil
}
