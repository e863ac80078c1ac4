"""Every action_id, callback_id and block_id, used both to build Block Kit and to register its listener."""

# Approval card buttons.
APPROVE = "request_approve"
DENY = "request_deny"
RETRY = "request_retry"

# What a button that opens a form shows while the form is prepared (handlers/blocks/forms.py: loading).
LOADING = "loading"

# The deny form.
DENY_FORM = "deny_form"
DENY_REASON_BLOCK = "deny_reason"
DENY_REASON_INPUT = "deny_reason_input"

# The request form (`/access` with no arguments).
REQUEST_FORM = "request_form"
FORM_VERB = "form_verb"
FORM_TARGET_USER = "form_target_user"
FORM_TARGET_EMAIL = "form_target_email"
FORM_PLATFORM = "form_platform"
FORM_ROLE = "form_role"
FORM_SCOPES = "form_scopes"
FORM_DURATION = "form_duration"
FORM_METHOD = "form_method"
FORM_REASON = "form_reason"
FORM_TICKET = "form_ticket"

#: Form selects that redraw the form when changed (the role and scope choices depend on them).
FORM_REDRAW_ACTIONS = (FORM_VERB, FORM_PLATFORM)

# Reminder buttons on a temporary grant (their value is the elevation id).
EXTEND = "elevation_extend"
REVOKE_NOW = "elevation_revoke_now"
KEEP = "elevation_keep"

# The extend form.
EXTEND_FORM = "extend_form"
EXTEND_SPAN = "extend_span"
EXTEND_REASON = "extend_reason"

# Manual tasks: the Done button (its value is the task id) and the form that asks how it was done.
TASK_DONE = "task_done"
TASK_SKIP = "task_skip"  # a step before a removal, skipped with a reason
TASK_RESENT = "task_resent"  # an invitation, re-sent in the platform's UI
TASK_FORM = "task_form"
TASK_EVIDENCE = "task_evidence"

# Access review rows (their value is the review item id).
REVIEW_KEEP = "review_keep"
REVIEW_REMOVE = "review_remove"
