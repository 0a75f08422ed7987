module github.com/kvkit/kvkit/bench

go 1.26.0

replace github.com/kvkit/kvkit => ../

require (
	github.com/SporkHubr/echo-http-cache v0.0.0-20200706100054-1d7ae9f38029 // indirect
	github.com/labstack/echo/v4 v4.1.16 // indirect
	github.com/labstack/gommon v0.3.0 // indirect
	github.com/mattn/go-colorable v0.1.7 // indirect
	github.com/mattn/go-isatty v0.0.12 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.1.1 // indirect
	golang.org/x/crypto v0.0.0-20200622213623-75b288015ac9 // indirect
	golang.org/x/net v0.0.0-20200625001655-4c5254603344 // indirect
	golang.org/x/sys v0.0.0-20200625212154-ddb9806d33ae // indirect
	golang.org/x/text v0.3.3 // indirect
)
