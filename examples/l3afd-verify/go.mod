module l3af.io/examples/l3afd-verify

go 1.19
