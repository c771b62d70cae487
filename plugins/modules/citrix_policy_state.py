#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/citrix_policy_state.py (routes to the host)
# and plugins/modules/citrix_policy_state.ps1 (the generic hand that runs on a Delivery Controller).

DOCUMENTATION = r"""
module: citrix_policy_state
short_description: Ensure a Citrix policy with given settings, priority and filters (generic)
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Generic Windows-side module, run on a Citrix Delivery Controller (or a machine with Citrix
    Studio / the Citrix PowerShell SDK). It ensures that a named Citrix policy exists (or not),
    with the given settings (by internal name), enabled state, description, priority and
    filters, in the site's store or in an Active Directory GPO, and returns C(before) and C(after).
  - It decides nothing about what the settings mean; C(sessionnet.virtual_ip.citrix_loopback_policy)
    is the user-facing module that builds its arguments.
  - It loads the PowerShell module C(Citrix.GroupPolicy.Commands) (or the snap-in
    C(Citrix.Common.GroupPolicy)), mounts a C(CitrixGroupPolicy) drive with C(-Controller) or
    C(-DomainGpo), switches C(AutoWriteBack) off, makes all changes and calls its C(Save) method once.
    It fails clearly when neither the module nor the snap-in is available.
  - Setting paths are discovered at run time, by listing C(<drive>:\<Type>\Unfiltered\Settings)
    recursively and matching each setting's C(PSChildName), as Citrix's own helper module does;
    a name that is not found fails and lists the setting names found next to the loopback settings.
  - A simulated controller needs C(citrix_ddc) in its C(sessionnet_simulated_windows_features).
options:
  name:
    description: Policy name (C(Unfiltered) is the built-in policy).
    type: str
    required: true
  state:
    description: Whether the policy must exist or not.
    type: str
    default: present
    choices: [present, absent]
  policy_type:
    description: Computer or user policy.
    type: str
    default: computer
    choices: [computer, user]
  store:
    description: C(controller) for the site's policies (Studio), C(domain_gpo) for Citrix policies kept in an AD GPO.
    type: str
    default: controller
    choices: [controller, domain_gpo]
  controller:
    description: Delivery Controller address (C(FQDN[:port])) for O(store=controller).
    type: str
    default: localhost
  gpo:
    description: Name of the AD GPO, for O(store=domain_gpo).
    type: str
  enabled:
    description: Whether the policy is enabled; unchanged when not given (new policies start disabled).
    type: bool
  priority:
    description:
      - Priority, 1 is the highest; unchanged when not given (a new policy is placed last).
        A number above the count of policies means the last place.
    type: int
  description:
    description: Policy description; unchanged when not given.
    type: str
  settings:
    description: Settings to ensure, each by its internal name.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Internal setting name (the provider's C(PSChildName)), such as C(VirtualLoopbackSupport).
        type: str
        required: true
      state:
        description: C(Enabled)/C(Allowed) selects, C(Disabled)/C(Prohibited) deselects, C(UseDefault) resets.
        type: str
        required: true
        choices: [Enabled, Disabled, Allowed, Prohibited, UseDefault]
      values:
        description: List value of the setting (written to C(Values)); unchanged when not given.
        type: list
        elements: str
  filters:
    description: Filters the policy must have.
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description: Filter type, such as C(DesktopGroup) (Delivery Group).
        type: str
        required: true
      value:
        description: Filter value (for C(DesktopGroup), the Delivery Group name).
        type: str
        required: true
      mode:
        description: Allow or deny.
        type: str
        default: Allow
        choices: [Allow, Deny]
      enabled:
        description: Whether the filter is enabled.
        type: bool
        default: true
  purge_filter_types:
    description: Filter types whose filters not listed in O(filters) are removed.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.windows
  - sessionnet.virtual_ip.package
attributes:
  check_mode:
    support: full
  diff_mode:
    details: No diff; the result holds C(before) and C(after).
    support: none
  platform:
    support: full
    platforms: windows
notes:
  - O(store=domain_gpo) and a remote O(controller) are a second hop from the WinRM session. With
    NTLM, or Kerberos without delegation, mounting the store fails with access denied; the task then
    fails saying so. Run it with C(become=true) and C(become_method=runas), or use CredSSP or
    Kerberos delegation (see the collection docs, page C(citrix_virtual_loopback.md)).
  - In check mode nothing is changed and nothing is saved; C(after) is what the policy would be.
seealso:
  - module: sessionnet.virtual_ip.citrix_loopback_policy
"""

EXAMPLES = r"""
- name: Ensure a policy with one setting (normally done by sessionnet.virtual_ip.citrix_loopback_policy)
  sessionnet.virtual_ip.citrix_policy_state:
    name: Virtual loopback
    enabled: true
    settings:
      - name: VirtualLoopbackSupport
        state: Enabled
  delegate_to: ddc01.example.test
"""

RETURN = r"""
before:
  description: >-
    The policy before: C(exists), C(name), C(enabled), C(priority), C(description), C(settings)
    (requested settings only, each C({state, values, path})) and C(filters)
    (C({type, name, value, mode, enabled})).
  returned: always
  type: dict
after:
  description: The policy after (in check mode, what it would be), in the shape of RV(before).
  returned: always
  type: dict
setting_paths:
  description: Discovered path under C(Settings\) of each requested setting.
  returned: always
  type: dict
store:
  description: C(controller) or C(gpo:<name>).
  returned: always
  type: str
simulated:
  description: True when a simulated controller answered.
  returned: always
  type: bool
"""
