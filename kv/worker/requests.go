package worker

// Operations counted by Requests.
const (
	opGet = iota
	opPut
	opDelete
	opList
	opBulkGet
	opBulkPut
	opBulkDelete
	numOps
)

var opNames = [numOps]string{"get", "put", "delete", "list", "get-bulk", "put-bulk", "delete-bulk"}

// Requests counts what a Namespace has asked of the Worker. Every HTTP
// attempt counts, retries included; calls rejected by validation before any
// request count nothing. None of it is a Cloudflare API request: a Worker's
// requests do not count against the account's REST API budget of 1,200
// requests per 5 minutes.
type Requests struct {
	Get        int64 // GET /v1/value (Get and GetStream)
	Put        int64 // PUT /v1/value
	Delete     int64 // DELETE /v1/value
	List       int64 // GET /v1/list
	BulkGet    int64 // POST /v1/bulk/get
	BulkPut    int64 // POST /v1/bulk/put, and the PUTs of large values of a PutBulk
	BulkDelete int64 // POST /v1/bulk/delete
	Retries    int64 // retries after a 429, 5xx or transport error (included above)
	// Replays counts the requests net/http wrote again, on a fresh
	// connection, because the kept-alive one it first wrote them on turned
	// out to be closed (not included above: the first write may or may not
	// have reached the Worker).
	Replays int64
	// KVOperations sums the KV operations the Worker reported making
	// (its KV-Operations header): the binding calls, which Workers limit
	// to 1,000 per invocation and Cloudflare bills.
	KVOperations int64
}

// Total returns every HTTP request made to the Worker (retries included).
func (r Requests) Total() int64 {
	return r.Get + r.Put + r.Delete + r.List + r.BulkGet + r.BulkPut + r.BulkDelete
}

// Requests returns the requests made so far.
func (n *Namespace) Requests() Requests {
	return Requests{
		Get: n.counts[opGet].Load(), Put: n.counts[opPut].Load(),
		Delete: n.counts[opDelete].Load(), List: n.counts[opList].Load(),
		BulkGet: n.counts[opBulkGet].Load(), BulkPut: n.counts[opBulkPut].Load(),
		BulkDelete: n.counts[opBulkDelete].Load(), Retries: n.retrs.Load(),
		Replays: n.replays.Load(), KVOperations: n.kvOps.Load(),
	}
}

// ResetRequests sets every count to zero.
func (n *Namespace) ResetRequests() {
	for i := range n.counts {
		n.counts[i].Store(0)
	}
	n.retrs.Store(0)
	n.replays.Store(0)
	n.kvOps.Store(0)
}
