module github.com/contoso/orderflow/backend

go 1.26.8
