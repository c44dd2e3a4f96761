module github.com/contoso/orderflow/tools

go 1.26.8
