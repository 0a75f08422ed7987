// Package tour holds the README's tour: one app per framework that uses
// every pattern, kept as Example functions so the README's snippets compile
// and their output is checked.
package tour
