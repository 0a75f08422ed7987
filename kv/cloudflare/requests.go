package cloudflare

// Operations counted by Requests.
const (
	opGet = iota
	opMetadata
	opPut
	opDelete
	opList
	opBulkGet
	opBulkPut
	opBulkDelete
	numOps
)

var opNames = [numOps]string{"values.get", "metadata.get", "values.put", "values.delete", "keys.list", "bulk.get", "bulk.write", "bulk.delete"}

// Requests counts the HTTP requests a Namespace has made to the API, by
// endpoint. Every attempt counts: a call retried twice after a 429 is three
// requests, as it is three against Cloudflare's account-wide budget of
// 1,200 requests per 5 minutes. A request that net/http silently replays on
// a fresh connection (after a keep-alive connection died under it) counts
// again too. Calls rejected by validation before any request count nothing.
type Requests struct {
	Get        int64 // GET …/values/{key}
	Metadata   int64 // GET …/metadata/{key}
	Put        int64 // PUT …/values/{key}
	Delete     int64 // DELETE …/values/{key}
	List       int64 // GET …/keys
	BulkGet    int64 // POST …/bulk/get
	BulkPut    int64 // PUT …/bulk
	BulkDelete int64 // POST …/bulk/delete
	Retries    int64 // retries kvkit made after a 429, 5xx or transport error (included above)
}

// Total returns every request made (retries included).
func (r Requests) Total() int64 {
	return r.Get + r.Metadata + r.Put + r.Delete + r.List + r.BulkGet + r.BulkPut + r.BulkDelete
}

// Requests returns the requests made so far.
func (n *Namespace) Requests() Requests {
	return Requests{
		Get: n.counts[opGet].Load(), Metadata: n.counts[opMetadata].Load(),
		Put: n.counts[opPut].Load(), Delete: n.counts[opDelete].Load(),
		List: n.counts[opList].Load(), BulkGet: n.counts[opBulkGet].Load(),
		BulkPut: n.counts[opBulkPut].Load(), BulkDelete: n.counts[opBulkDelete].Load(),
		Retries: n.retries.Load(),
	}
}

// ResetRequests sets every count to zero.
func (n *Namespace) ResetRequests() {
	for i := range n.counts {
		n.counts[i].Store(0)
	}
	n.retries.Store(0)
}
