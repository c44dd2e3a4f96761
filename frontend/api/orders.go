package api

import (
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/platform/orders"
)

// orderView is the API representation of an order. It is its own type, not
// orders.Order, so store-internal fields (the outbox flag, the receipt's blob
// name, the etag) never become part of the public contract by accident.
type orderView struct {
	ID            string              `json:"id"`
	CustomerID    string              `json:"customerId"`
	Items         []orders.Item       `json:"items"`
	Note          string              `json:"note,omitempty"`
	Status        orders.Status       `json:"status"`
	Total         int64               `json:"total"`
	Attachments   []orders.Attachment `json:"attachments"`
	FailureReason string              `json:"failureReason,omitempty"`
	CreatedAt     time.Time           `json:"createdAt"`
	UpdatedAt     time.Time           `json:"updatedAt"`
	// Delivery and Steps are computed by Server.present (delivery.go): the outbox
	// flag made public on purpose, as an explicit field with its own contract.
	Delivery *deliveryView `json:"delivery,omitempty"`
	Steps    []stepView    `json:"steps,omitempty"`
	Links    orderLinks    `json:"links"`
}

// orderLinks are the URLs a client follows from an order; building them here
// keeps clients from assembling paths themselves.
type orderLinks struct {
	Self        string `json:"self"`
	Events      string `json:"events"`
	Attachments string `json:"attachments"`
	Receipt     string `json:"receipt,omitempty"`
}

func orderPath(id string) string { return "/api/orders/" + url.PathEscape(id) }

func viewOf(o *orders.Order) orderView {
	v := orderView{
		ID: o.ID, CustomerID: o.CustomerID, Items: o.Items, Note: o.Note, Status: o.Status,
		Total: o.Total, Attachments: o.Attachments, FailureReason: o.FailureReason,
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		Links: orderLinks{
			Self:        orderPath(o.ID),
			Events:      orderPath(o.ID) + "/events",
			Attachments: orderPath(o.ID) + "/attachments",
		},
	}
	if v.Items == nil {
		v.Items = []orders.Item{}
	}
	if v.Attachments == nil {
		v.Attachments = []orders.Attachment{}
	}
	if o.Status == orders.StatusCompleted {
		v.Links.Receipt = orderPath(o.ID) + "/receipt"
	}
	return v
}

// placeOrder handles POST /api/orders: decode and validate, then store the order
// and send OrderPlaced through orders.Placer, which owns the dual write (store
// unpublished, send, mark published; orders.Reconciler, which this service runs,
// re-sends what a crash left unpublished).
func (s *Server) placeOrder(c echo.Context) error {
	req := c.Request()
	if err := requireJSON(req); err != nil {
		return err
	}
	if req.ContentLength > s.limits.MaxBodyBytes {
		// Refuse before reading when the client announced the size.
		return orders.Errorf(orders.ETOOLARGE, "The request body is larger than %d bytes.", s.limits.MaxBodyBytes)
	}
	body := http.MaxBytesReader(c.Response(), s.paced(c), s.limits.MaxBodyBytes)
	in, err := decodeOrder(body, s.catalog)
	if err != nil {
		return err
	}
	o, err := s.placer.Place(req.Context(), in)
	if err != nil {
		return fmt.Errorf("place order for customer %s: %w", in.CustomerID, err)
	}
	s.metrics.OrdersPlaced.Inc()
	logAttrs(c, slog.String("order_id", o.ID), slog.Int("items", len(o.Items)), slog.Bool("published", o.Published))
	c.Response().Header().Set(echo.HeaderLocation, orderPath(o.ID))
	return c.JSON(http.StatusAccepted, s.present(o))
}

// requireJSON refuses bodies that are not declared as JSON, so a form post or a
// text/plain "simple request" from another site cannot place orders.
func requireJSON(req *http.Request) error {
	mt, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return orders.Errorf(orders.EUNSUPPORTED, "Send the order as application/json.")
	}
	return nil
}

// getOrder handles GET /api/orders/{id}.
func (s *Server) getOrder(c echo.Context) error {
	o, err := s.loadOrder(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, s.present(o))
}

// loadOrder validates the :id path parameter and reads the order.
func (s *Server) loadOrder(c echo.Context) (*orders.Order, error) {
	id := c.Param("id")
	if err := orders.ValidateOrderID(id); err != nil {
		return nil, err
	}
	o, err := s.orders.Get(c.Request().Context(), id)
	if err != nil {
		return nil, fmt.Errorf("get order %s: %w", id, err)
	}
	return o, nil
}

// maxContinuationBytes bounds the opaque token a client sends back; real ones
// are far shorter, and anything longer is not ours.
const maxContinuationBytes = orders.MaxContinuationLength

// orderPage is the response of GET /api/customers/{customerId}/orders.
type orderPage struct {
	Orders []orderView `json:"orders"`
	// Continuation is opaque; pass it back as ?continuation= for the next page.
	// It is empty on the last page.
	Continuation string `json:"continuation,omitempty"`
	// Next is the URL of the next page, for clients that follow links.
	Next string `json:"next,omitempty"`
}

// listCustomerOrders handles GET /api/customers/{customerId}/orders?limit=&continuation=.
func (s *Server) listCustomerOrders(c echo.Context) error {
	customerID := c.Param("customerId")
	if err := orders.ValidateCustomerID(customerID); err != nil {
		return err
	}
	var fields []orders.FieldError
	limit := orders.DefaultListLimit
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > orders.MaxListLimit {
			fields = append(fields, orders.FieldError{Field: "limit", Message: fmt.Sprintf("must be a whole number between 1 and %d", orders.MaxListLimit)})
		}
		limit = n
	}
	// Checked before the store sees it: a token with a control character would
	// otherwise fail as an unsendable header and be reported as an outage.
	cont := c.QueryParam("continuation")
	if err := orders.ValidateContinuation(cont); err != nil {
		fields = append(fields, orders.ErrorFields(err)...)
	}
	if len(fields) > 0 {
		return &orders.Error{Code: orders.EINVALID, Message: "The query is not valid.", Fields: fields}
	}
	page, err := s.orders.ListByCustomer(c.Request().Context(), customerID, limit, cont)
	if err != nil {
		return fmt.Errorf("list orders of customer %s: %w", customerID, err)
	}
	out := orderPage{Orders: make([]orderView, 0, len(page.Orders)), Continuation: page.Continuation}
	for _, o := range page.Orders {
		out.Orders = append(out.Orders, s.present(o))
	}
	if page.Continuation != "" {
		q := url.Values{"limit": {strconv.Itoa(limit)}, "continuation": {page.Continuation}}
		out.Next = "/api/customers/" + url.PathEscape(customerID) + "/orders?" + q.Encode()
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

// listProducts handles GET /api/products: the catalog the form offers.
func (s *Server) listProducts(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	// A bare array: the catalog has no paging or metadata to wrap it in.
	return c.JSON(http.StatusOK, s.catalog.Products())
}
