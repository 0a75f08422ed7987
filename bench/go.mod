module github.com/kvkit/kvkit/bench

go 1.26.0

replace github.com/kvkit/kvkit => ../

require github.com/alexedwards/scs/v2 v2.9.0 // indirect
