module github.com/contoso/orderflow/backend

go 1.26.8

require github.com/contoso/orderflow/platform v0.0.0

replace github.com/contoso/orderflow/platform => ../platform
