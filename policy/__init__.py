"""The payment-dr policy pack (`pulumi preview --policy-pack policy`); its rules live in rules.py."""
