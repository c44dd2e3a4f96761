package orders

import (
	"fmt"
	"sort"
)

// Product is something that can be ordered, with its unit price in integer cents.
type Product struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	UnitPrice int64  `json:"unitPrice"`
}

// Catalog is the fixed set of products orders are validated and priced against.
// A Catalog is immutable after NewCatalog, so it is safe for concurrent use.
type Catalog struct {
	byID     map[string]Product
	products []Product
}

// NewCatalog returns a catalog of products, refusing duplicate IDs and non-positive
// prices so that pricing can never produce a zero or negative total by accident.
func NewCatalog(products ...Product) (*Catalog, error) {
	c := &Catalog{byID: make(map[string]Product, len(products))}
	for _, p := range products {
		if p.ID == "" {
			return nil, fmt.Errorf("catalog: product %q has no ID", p.Name)
		}
		if _, dup := c.byID[p.ID]; dup {
			return nil, fmt.Errorf("catalog: duplicate product ID %q", p.ID)
		}
		if p.UnitPrice <= 0 || p.UnitPrice > MaxUnitPrice {
			return nil, fmt.Errorf("catalog: product %q has unit price %d, want 1..%d cents", p.ID, p.UnitPrice, MaxUnitPrice)
		}
		c.byID[p.ID] = p
		c.products = append(c.products, p)
	}
	sort.Slice(c.products, func(i, j int) bool { return c.products[i].ID < c.products[j].ID })
	return c, nil
}

// DefaultCatalog is the demo catalog both services use. It is code, not data, so the
// frontend (validation) and the backend (pricing) can never disagree about it.
func DefaultCatalog() *Catalog {
	c, err := NewCatalog(
		Product{ID: "espresso-beans-1kg", Name: "Espresso beans, 1 kg", UnitPrice: 2450},
		Product{ID: "filter-papers-100", Name: "Filter papers, 100 pack", UnitPrice: 499},
		Product{ID: "grinder-hand", Name: "Hand grinder", UnitPrice: 6900},
		Product{ID: "kettle-gooseneck", Name: "Gooseneck kettle", UnitPrice: 5450},
		Product{ID: "mug-ceramic", Name: "Ceramic mug", UnitPrice: 1200},
	)
	if err != nil {
		panic(err) // a broken literal above is a programming error
	}
	return c
}

// Lookup returns the product with id.
func (c *Catalog) Lookup(id string) (Product, bool) {
	p, ok := c.byID[id]
	return p, ok
}

// Products returns the products sorted by ID. The slice is a copy.
func (c *Catalog) Products() []Product { return append([]Product(nil), c.products...) }

// Price returns a receipt line per item and the total in cents. It fails with EINVALID
// naming the item when a product is unknown or a quantity is out of range, so that the
// worker can tell a permanently bad order from a transient failure.
func (c *Catalog) Price(items []Item) ([]ReceiptLine, int64, error) {
	if len(items) == 0 {
		return nil, 0, &Error{Code: EINVALID, Message: "The order has no items.",
			Fields: []FieldError{{Field: "items", Message: "must contain at least one item"}}}
	}
	lines := make([]ReceiptLine, 0, len(items))
	var total int64
	var fields []FieldError
	for i, it := range items {
		p, ok := c.byID[it.ProductID]
		if !ok {
			fields = append(fields, FieldError{Field: fmt.Sprintf("items[%d].productId", i), Message: fmt.Sprintf("unknown product %q", it.ProductID)})
			continue
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			fields = append(fields, FieldError{Field: fmt.Sprintf("items[%d].quantity", i), Message: fmt.Sprintf("must be between 1 and %d", MaxQuantity)})
			continue
		}
		// Bounded by MaxItems*MaxQuantity*MaxUnitPrice, far below int64 overflow.
		amount := p.UnitPrice * int64(it.Quantity)
		lines = append(lines, ReceiptLine{ProductID: p.ID, Name: p.Name, Quantity: it.Quantity, UnitPrice: p.UnitPrice, Amount: amount})
		total += amount
	}
	if len(fields) > 0 {
		return nil, 0, &Error{Code: EINVALID, Message: "The order cannot be priced.", Fields: fields}
	}
	return lines, total, nil
}
