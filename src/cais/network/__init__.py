"""Networks as CNI configurations: a default bridge, user networks, published ports.

Words: a *network* is a CNI conflist (bridge → portmap → firewall); an *endpoint* is one
container's attachment to one network (its address, interface and the CNI result that
DEL needs); a container's *namespace* is a network namespace cais creates and hands to crun.
"""
