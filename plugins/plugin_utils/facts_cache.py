# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts once per host: the cache of vip_info's answer, kept as a host fact.

Ansible runs each task in a worker process, so the cache lives where every later task of the
same host sees it: the host fact ``sessionnet_vip_facts_cache`` (set through the action
result's ``ansible_facts``). An entry is valid for one *scope*, chosen per host with the
variable ``sessionnet_vip_facts_cache_scope``:

- ``play`` (default): the current play only;
- ``run``: the whole ``ansible-playbook`` run (``playbooks/site.yml`` and ``audit.yml`` use it:
  they contain only this collection's tasks, so nothing else writes behind the cache);
- ``off``: no cache, every module reads the host.

Our own writes keep the entry true: a registry change set patches the cached keys (or drops the
entry when it cannot follow exactly), any other change drops it. Tasks delegated to another host
neither read nor write the cache (their facts would land on the wrong host).
"""

from __future__ import annotations

from ansible_collections.sessionnet.virtual_ip.plugins.plugin_utils.package import import_from_package

CACHE_FACT = "sessionnet_vip_facts_cache"
SCOPE_VAR = "sessionnet_vip_facts_cache_scope"
#: Modules that never change the host: their answers leave the cache alone.
READ_ONLY = frozenset({"vip_info", "dhcp_scope_info", "vip_socket_info"})
_PENDING = "_sessionnet_facts_cache_update"
_DROP = "drop"


def _play_of(task):
    node = task
    while node is not None:
        play = getattr(node, "_play", None)
        if play is not None:
            return play
        node = getattr(node, "_parent", None)
    return None


def scope_id(action, task_vars):
    """The cache scope of this task's host, or ``None`` (cache off, delegated task, scope unknown)."""
    host = task_vars.get("inventory_hostname")
    target = getattr(action._task, "delegate_to", None)
    if target and target != host:
        return None
    scope = task_vars.get(SCOPE_VAR, "play")
    if scope not in ("play", "run", "off"):
        raise import_from_package("errors").VipError(
            "%s is %r; use play (the default), run or off" % (SCOPE_VAR, scope)
        )
    if scope == "off":
        return None
    play = _play_of(action._task)
    uuid = getattr(play, "_uuid", None)
    if not uuid:
        return None
    # ansible-core's unique IDs are "<node>-<node>-<random per process>-<random>-<counter>": all
    # but the counter are fixed for one ansible-playbook process (ansible.utils.vars.get_unique_id).
    return "run:" + uuid.rsplit("-", 1)[0] if scope == "run" else "play:" + uuid


def _current(action, task_vars):
    pending = getattr(action, _PENDING, None)
    if pending == _DROP:
        return None
    if pending is not None:
        return pending
    return (task_vars.get("ansible_facts") or {}).get(CACHE_FACT)


def cached_raw(action, task_vars, keys):
    """The cached raw vip_info answer for ``keys``, or ``None``."""
    scope = scope_id(action, task_vars)
    if scope is None:
        return None
    cache = import_from_package("windows.facts_cache")
    return cache.lookup(_current(action, task_vars), scope, task_vars.get("inventory_hostname"), keys)


def remember(action, task_vars, keys, raw):
    scope = scope_id(action, task_vars)
    if scope is None:
        return
    cache = import_from_package("windows.facts_cache")
    setattr(action, _PENDING, cache.make_entry(scope, task_vars.get("inventory_hostname"), keys, raw))


def after_call(action, task_vars, module, module_args, result, check_mode):
    """Keep the cache true after ``module`` answered ``result``."""
    if module in READ_ONLY or check_mode or not result.get("changed"):
        return
    if scope_id(action, task_vars) is None:
        return
    entry = _current(action, task_vars)
    if entry is None:
        return
    if module == "registry_state":
        cache = import_from_package("windows.facts_cache")
        patched = cache.apply_registry_writes(
            entry,
            module_args.get("values") or [],
            module_args.get("keys_absent") or [],
            module_args.get("keys_moved") or [],
            module_args.get("cim_properties") or [],
            result.get("moves") if "moves" in result else None,
        )
        setattr(action, _PENDING, patched if patched is not None else _DROP)
    else:
        setattr(action, _PENDING, _DROP)


def publish(action, result):
    """Put this task's cache update (if any) into its result, as the host fact."""
    pending = getattr(action, _PENDING, None)
    if pending is None:
        return
    result.setdefault("ansible_facts", {})[CACHE_FACT] = None if pending == _DROP else pending
