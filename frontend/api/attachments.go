package api

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/contoso/orderflow/platform/orders"
)

// sniffable are the types http.DetectContentType recognises. An attachment
// declared as one of them must also look like it, so a renamed executable
// declared as image/png is refused rather than stored and later served.
var sniffable = map[string]bool{
	"application/pdf": true, "image/png": true, "image/jpeg": true, "image/gif": true,
	"image/webp": true, "image/bmp": true, "text/plain": true, "application/zip": true,
}

// multipartOverhead is what the multipart framing around the file may add to
// the body: boundaries and part headers. It keeps the body limit meaningful
// without counting it against the file.
const multipartOverhead = 16 << 10

// attachmentField is the multipart form field that carries the file.
const attachmentField = "file"

// uploadAttachment handles POST /api/orders/{id}/attachments, a multipart/form-data
// body with one "file" part. The part is streamed to Blob Storage as it arrives:
// r.MultipartReader, unlike ParseMultipartForm, never holds the file in memory
// or spills it to a temporary file.
func (s *Server) uploadAttachment(c echo.Context) error {
	req := c.Request()
	o, err := s.loadOrder(c)
	if err != nil {
		return err
	}
	maxFile := s.limits.MaxAttachmentBytes
	if req.ContentLength > maxFile+multipartOverhead {
		return orders.Errorf(orders.ETOOLARGE, "The attachment is larger than %d bytes.", maxFile)
	}
	req.Body = http.MaxBytesReader(c.Response(), s.paced(c), maxFile+multipartOverhead)
	mr, err := req.MultipartReader()
	if err != nil {
		return &orders.Error{Code: orders.EUNSUPPORTED, Message: "Send the attachment as multipart/form-data with a \"file\" part.", Err: err}
	}
	part, err := nextFilePart(mr, maxFile)
	if err != nil {
		return err
	}
	defer part.Close()

	name, err := sentFileName(part)
	if err != nil {
		return err
	}
	if err := orders.ValidateAttachmentName(name); err != nil {
		return renameField(err, attachmentField)
	}
	// Check before uploading: the blob name is derived from the attachment
	// name, so uploading first would overwrite the existing file and only then
	// be refused. (Two concurrent uploads of one name can still race; the
	// order records one of them.)
	if err := attachmentRoom(o, name); err != nil {
		return err
	}
	declared, err := s.declaredType(part.Header.Get(echo.HeaderContentType))
	if err != nil {
		return err
	}
	// Peek at the first bytes to check the content matches its declared type,
	// without consuming them: the same reader goes to the store.
	br := bufio.NewReaderSize(part, 512)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return uploadReadError(err, maxFile)
	}
	if sniffed := sniffType(head); sniffed != declared && (sniffable[declared] || sniffed == "text/html") {
		return &orders.Error{Code: orders.EUNSUPPORTED,
			Message: fmt.Sprintf("The file's content is %s, not the declared %s.", sniffed, declared),
			Fields:  []orders.FieldError{{Field: attachmentField, Message: "content does not match its type " + declared}}}
	}

	a, err := s.attachments.Put(req.Context(), o.ID, name, declared, br, maxFile)
	if err != nil {
		if orders.ErrorCode(err) == orders.ETOOLARGE {
			return &orders.Error{Code: orders.ETOOLARGE, Message: fmt.Sprintf("The attachment is larger than %d bytes.", maxFile), Err: err,
				Fields: []orders.FieldError{{Field: attachmentField, Message: fmt.Sprintf("must be at most %d bytes", maxFile)}}}
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, errSlowBody) {
			return uploadReadError(err, maxFile)
		}
		return fmt.Errorf("store attachment %q of order %s: %w", name, o.ID, err)
	}
	if err := s.orders.AddAttachment(req.Context(), o, a); err != nil {
		return renameField(fmt.Errorf("record attachment %q on order %s: %w", name, o.ID, err), attachmentField)
	}
	logAttrs(c, slog.String("order_id", o.ID), slog.Int64("size", a.Size), slog.String("content_type", a.ContentType))
	c.Response().Header().Set(echo.HeaderLocation, orderPath(o.ID)+"/attachments/"+url.PathEscape(a.Name))
	return c.JSON(http.StatusCreated, a)
}

// attachmentRoom refuses a name the order already has, or a full order.
func attachmentRoom(o *orders.Order, name string) error {
	conflict := func(msg string) error {
		return &orders.Error{Code: orders.ECONFLICT, Message: msg, Fields: []orders.FieldError{{Field: attachmentField, Message: msg}}}
	}
	if len(o.Attachments) >= orders.MaxAttachments {
		return conflict(fmt.Sprintf("The order already has %d attachments, the most it can hold.", orders.MaxAttachments))
	}
	for _, a := range o.Attachments {
		if a.Name == name {
			return conflict(fmt.Sprintf("The order already has an attachment named %q.", name))
		}
	}
	return nil
}

// nextFilePart skips to the "file" part; other fields are drained and ignored.
// maxFile is the attachment limit, for the message when draining them hits the
// body limit.
func nextFilePart(mr *multipart.Reader, maxFile int64) (*multipart.Part, error) {
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, &orders.Error{Code: orders.EINVALID, Message: "The upload has no \"file\" part.",
				Fields: []orders.FieldError{{Field: attachmentField, Message: "is required"}}}
		}
		if err != nil {
			return nil, uploadReadError(err, maxFile)
		}
		if p.FormName() == attachmentField && p.FileName() != "" {
			return p, nil
		}
		_ = p.Close()
	}
}

// sentFileName is the part's filename as the client sent it. Part.FileName
// returns only its base name, so "../../etc/passwd" would be stored quietly as
// "passwd"; a name with folders is refused instead, so the client learns that
// what it named is not what would be stored.
func sentFileName(p *multipart.Part) (string, error) {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return "", &orders.Error{Code: orders.EINVALID, Message: "The file part's Content-Disposition could not be read.", Err: err,
			Fields: []orders.FieldError{{Field: attachmentField, Message: "has a malformed Content-Disposition header"}}}
	}
	name := params["filename"]
	if strings.ContainsAny(name, `/\`) {
		return "", &orders.Error{Code: orders.EINVALID, Message: "The attachment name must be a file name without folders.",
			Fields: []orders.FieldError{{Field: attachmentField, Message: "must be a file name without folders (no '/' or '\\')"}}}
	}
	return name, nil
}

// declaredType returns the part's media type if it is on the allow-list.
func (s *Server) declaredType(header string) (string, error) {
	mt, _, err := mime.ParseMediaType(header)
	if err != nil || !slices.Contains(s.limits.AllowedTypes, mt) {
		shown := mt
		if shown == "" {
			shown = "missing"
		}
		allowed := strings.Join(s.limits.AllowedTypes, ", ")
		return "", &orders.Error{Code: orders.EUNSUPPORTED,
			Message: fmt.Sprintf("Attachments of type %s are not accepted; send one of %s.", shown, allowed),
			Fields:  []orders.FieldError{{Field: attachmentField, Message: "must be one of " + allowed}}}
	}
	return mt, nil
}

// sniffType is the media type the content looks like, without parameters.
func sniffType(head []byte) string {
	if len(head) == 0 {
		// An empty file carries no content to disagree with; call it text.
		return "text/plain"
	}
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	return mt
}

// uploadReadError classifies a failure reading the request body.
func uploadReadError(err error, maxFile int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &orders.Error{Code: orders.ETOOLARGE, Message: fmt.Sprintf("The attachment is larger than %d bytes.", maxFile), Err: err,
			Fields: []orders.FieldError{{Field: attachmentField, Message: fmt.Sprintf("must be at most %d bytes", maxFile)}}}
	}
	if errors.Is(err, errSlowBody) {
		return &orders.Error{Code: orders.EINVALID, Message: "The upload arrived too slowly; " + err.Error() + ".", Err: err,
			Fields: []orders.FieldError{{Field: attachmentField, Message: "arrived too slowly"}}}
	}
	return &orders.Error{Code: orders.EINVALID, Message: "The multipart body could not be read.", Err: err}
}

// renameField reports the domain's "name" field problems under the form field
// the page shows them next to.
func renameField(err error, field string) error {
	var e *orders.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Fields = nil
	for _, fe := range e.Fields {
		c.Fields = append(c.Fields, orders.FieldError{Field: field, Message: fe.Message})
	}
	if len(c.Fields) == 0 && c.Code == orders.ECONFLICT {
		c.Fields = []orders.FieldError{{Field: field, Message: c.Message}}
	}
	c.Err = err
	return &c
}

// downloadAttachment handles GET /api/orders/{id}/attachments/{name}, streaming
// the blob. It is served as a download with the stored type and nosniff, so an
// uploaded file can never run as a page of this origin.
func (s *Server) downloadAttachment(c echo.Context) error {
	o, err := s.loadOrder(c)
	if err != nil {
		return err
	}
	name := c.Param("name")
	if u, err := url.PathUnescape(name); err == nil {
		name = u
	}
	if err := orders.ValidateAttachmentName(name); err != nil {
		return err
	}
	rc, a, err := s.attachments.Get(c.Request().Context(), o.ID, name)
	if err != nil {
		return fmt.Errorf("open attachment %q of order %s: %w", name, o.ID, err)
	}
	defer rc.Close()
	h := c.Response().Header()
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	h.Set("Cache-Control", "private, no-store")
	return c.Stream(http.StatusOK, a.ContentType, rc)
}
