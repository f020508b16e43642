"""One pydantic model per component: its stack-config section, validated once, the input of its builders.

Each module here holds the model of one component's `labhub:<section>` and
nothing that imports Pulumi, so parsing a stack's config costs a pydantic
import and no provider SDK. The model is what the stack file says (camelCase
keys, unknown keys refused), what the component takes as its args, and what
its pure builders (z2jh values, pod specs) read. Kubernetes object names are
properties of the model, derived from it, so every module asks the model.

Adding a component, the pattern SpyglassHub and NotebookTemplates follow:

1. `components/models/<component>.py`: `<Component>Config(Section)` with a
   `Field(description=...)` per key (the README's config reference is generated
   from them), every rule as a validator whose message names the stack-file
   keys, and the names of the component's Kubernetes objects as properties.
   Shared field types are in `components/fields.py`, `Resources` (requests and
   limits, request <= limit) in `section.py`.
2. `components/config.py`: the section is a field of `StackConfig`; rules across components go in `StackConfig._cross_component`;
   an outside credential is an `ExternalSecret`.
3. `components/stack_secrets.py`: a frozen `<Component>Secrets` bundle (every
   field present), made in `StackSecrets.__init__` when the component is on and
   returned by a property; its generated secrets are listed in
   `models/secrets.py` `GENERATED_SECRETS` (their rotation keepers).
4. Builders (`components/<component>_values.py` or similar) take the model
   itself and return plain data; the ComponentResource takes
   `<Component>Args(config=<model>, namespace=..., secrets=<bundle>)`.
5. Tests: `tests/components/models/test_<component>_config.py` asserts whole
   error lines through `parse_stack_config`; `tests/components/test_<component>.py`
   runs the component under mocks (`run_component`).
"""
