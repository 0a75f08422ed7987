module github.com/kvkit/kvkit/bench

go 1.26.0

replace github.com/kvkit/kvkit => ../
