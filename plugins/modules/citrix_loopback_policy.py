#!/usr/bin/python
# Copyright: sessionnet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation of the module; code: plugins/action/citrix_loopback_policy.py (all decisions, in
# sessionnet_vip.windows.citrix_policy) and the generic hand citrix_policy_state(.ps1).

DOCUMENTATION = r"""
module: citrix_loopback_policy
short_description: Citrix virtual loopback policy (loopback support, programs, port exclusions)
version_added: "0.1.0"
author: sessionnet developers (@sessionnet)
description:
  - Ensures a named Citrix computer policy that turns B(virtual IP loopback support) on or off
    and lists the programs that get a per-session loopback address (127.X.X.X, X.X.X = session
    ID + 1), optionally with the B(loopback port exclusion) list, a priority and a Delivery Group
    filter; in the site's store (O(store=controller)) or in an AD GPO (O(store=domain_gpo)).
  - Citrix virtual loopback needs exactly these two policy settings and no Windows change
    (Citrix docs, "Virtual IP and virtual loopback").
  - Run it against a Delivery Controller (or a machine with Citrix Studio / the PowerShell SDK),
    usually with C(delegate_to) and C(run_once). It makes B(one) call (C(citrix_policy_state)),
    which saves the policy once.
  - Bad input fails naming the option and nothing is sent to the controller.
options:
  name:
    description: Policy name.
    type: str
    required: true
  state:
    description: C(present) ensures the policy; C(absent) removes it.
    type: str
    default: present
    choices: [present, absent]
  loopback_support:
    description: The "Virtual IP loopback support" setting (internal name C(VirtualLoopbackSupport)).
    type: str
    default: enabled
    choices: [enabled, disabled]
  programs:
    description:
      - The "Virtual IP virtual loopback programs list" (C(VirtualLoopbackPrograms)).
      - Executable names (C(ctiagent.exe)) or full paths. Wildcards, quotes, environment
        variables and relative paths are refused; entries differing only in case are merged.
      - Citrix documents executable names only, so full paths are reduced to their executable
        name (with a warning) unless O(program_paths=keep).
      - Required and non-empty when O(loopback_support=enabled) (loopback applies only to the listed
        programs). With O(loopback_support=disabled), C([]) resets the list and omitting it leaves it alone.
    type: list
    elements: str
  program_paths:
    description: C(name) reduces full paths to the executable name; C(keep) sends them as given.
    type: str
    default: name
    choices: [name, keep]
  port_exclusions:
    description:
      - The "Virtual IP loopback port exclusion" list (newer Citrix releases) - loopback calls on these
        ports are not redirected to the session's loopback address.
      - Ports (C(8080)) or ranges (C("8000-8010")) within 1-65535; overlapping and adjacent ranges
        are merged and sorted. C([]) resets the setting to its default; omitted leaves it alone.
    type: list
    elements: raw
  port_exclusion_setting:
    description:
      - Internal name of the port exclusion setting. B(Not confirmed by any public source); the
        default is a guess following C(VirtualLoopbackSupport)/C(VirtualLoopbackPrograms). When the
        controller has no setting of this name, the task fails listing the setting names found next
        to the loopback settings; give the right one here.
    type: str
    default: VirtualLoopbackPortExclusion
  priority:
    description: Policy priority (1 is the highest); unchanged when omitted, new policies are placed last.
    type: int
  enabled:
    description: Whether the policy is enabled (new Citrix policies start disabled).
    type: bool
    default: true
  description:
    description: Policy description; unchanged when omitted.
    type: str
  delivery_groups:
    description:
      - Delivery Group names the policy applies to (C(DesktopGroup) filters, mode Allow). When
        given, these are exactly the policy's Delivery Group filters. Omitted leaves filters alone.
      - Since XenDesktop 7.16 the provider addresses such a filter by its value as a path, so names
        with C(\) or C(/) are refused; C([) and C(]) are fine.
    type: list
    elements: str
  store:
    description: C(controller) for the site's policies, C(domain_gpo) for Citrix policies in an AD GPO.
    type: str
    default: controller
    choices: [controller, domain_gpo]
  controller:
    description: Delivery Controller address as seen from the host the task runs on.
    type: str
    default: localhost
  gpo:
    description: AD GPO name, required with O(store=domain_gpo).
    type: str
extends_documentation_fragment:
  - sessionnet.virtual_ip.attributes
  - sessionnet.virtual_ip.windows
  - sessionnet.virtual_ip.package
attributes:
  check_mode:
    support: full
  diff_mode:
    details: Returns the policy as C(before)/C(after) in diff mode.
    support: full
  platform:
    support: full
    platforms: windows
notes:
  - O(store=domain_gpo) and a remote O(controller) are a second hop from the WinRM session. With
    NTLM, or Kerberos without delegation, mounting the store fails with access denied; the task then
    fails saying so. Run it with C(become=true) and C(become_method=runas), or use CredSSP or
    Kerberos delegation (see the collection docs, page C(citrix_virtual_loopback.md)).
  - Setting paths under the provider's C(Settings) tree are discovered at run time by internal name.
  - The port exclusion values are sent as strings C("N") or C("A-B"); whether every Citrix release accepts
    the range form is not verified.
  - Not run against a real Citrix site by this project; see docs/citrix_virtual_loopback.md.
seealso:
  - module: sessionnet.virtual_ip.citrix_prefer_loopback
  - module: sessionnet.virtual_ip.citrix_policy_state
"""

EXAMPLES = r"""
- name: Give CTI agents their own loopback address in every session
  sessionnet.virtual_ip.citrix_loopback_policy:
    name: Virtual loopback for CTI
    programs: [ctiagent.exe, 'C:\Program Files\CRM\crmclient.exe']
    port_exclusions: [8080, "9000-9010"]
    delivery_groups: [Call center]
    priority: 1
  delegate_to: ddc01.example.test
  run_once: true

- name: Same policy kept in an AD GPO
  sessionnet.virtual_ip.citrix_loopback_policy:
    name: Virtual loopback for CTI
    store: domain_gpo
    gpo: Citrix Policies
    programs: [ctiagent.exe]
  delegate_to: ddc01.example.test
  run_once: true
"""

RETURN = r"""
policy:
  description: Policy name.
  returned: always
  type: str
store:
  description: C(controller) or C(domain_gpo).
  returned: always
  type: str
programs:
  description: The programs list as written (normalised), or null when not managed.
  returned: always
  type: list
  elements: str
port_exclusions:
  description: The port exclusions as written (merged), or null when not managed.
  returned: always
  type: list
  elements: str
before:
  description: The policy before (C(enabled), C(priority), C(description), C(settings), C(filters)); C({}) when absent.
  returned: always
  type: dict
after:
  description: The policy after (in check mode, what it would be); C({}) when absent.
  returned: always
  type: dict
setting_paths:
  description: Where each setting was found under C(Settings\) on the controller.
  returned: always
  type: dict
simulated:
  description: True when a simulated controller answered.
  returned: always
  type: bool
"""
