# Convenience aliases for cockpit.py (which needs nothing but Python).
.PHONY: setup demo run test bench
setup: ; python3 cockpit.py setup
demo:  ; python3 cockpit.py demo
run:   ; python3 cockpit.py run
test:  ; python3 cockpit.py test
bench: ; python3 cockpit.py bench
