# SPDX-License-Identifier: LGPL-2.1-or-later
# Workstation: assign the display+audio group to a guest and release it on a real kernel;
# refuse the NVMe that holds a mounted filesystem; refuse bad input; survive crashes mid-way;
# reset a NIC on release, quarantine one whose reset fails.
import json
import os
import subprocess

from checks import iommud_listing

TOPOLOGY = "workstation"
TIMEOUT = 420

JOURNAL = "/run/iommud/state.json"


def driver(address):
        link = f"/sys/bus/pci/devices/{address}/driver"
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


def override(address):
        with open(f"/sys/bus/pci/devices/{address}/driver_override") as f:
                value = f.read().strip()
        return None if value == "(null)" else value


def snapshot(addresses):
        return {a: (driver(a), override(a)) for a in addresses}


def journal():
        with open(JOURNAL) as f:
                return json.load(f)


def refused(vm, args, error, words, watched):
        """Runs iommuctl ARGS, expects exit 1 with ERROR and WORDS on stderr, and no change."""
        before = snapshot(watched)
        result = vm.run(["iommuctl", *args], check=False, quiet=True)
        vm.log(f"$ iommuctl {' '.join(args)} -> {result.returncode}: {result.stderr.strip()}")
        vm.check(result.returncode == 1, f"iommuctl {' '.join(args)} exited with "
                 f"{result.returncode}, not 1; stderr: {result.stderr}")
        for word in [error, *words]:
                vm.check(word in result.stderr, f"iommuctl {' '.join(args)}: '{word}' is not in "
                         f"its message: {result.stderr!r}")
        vm.check(snapshot(watched) == before, f"iommuctl {' '.join(args)} changed sysfs: "
                 f"{before} -> {snapshot(watched)}")


RESET_METHODS = ("device_specific", "acpi", "flr", "af_flr", "pm", "bus", "cxl_bus")


def attribute(address, name):
        with open(f"/sys/bus/pci/devices/{address}/{name}") as f:
                return f.read().strip()


def between_owners(vm, nic):
        """A released NIC is reset with the policy's method (in the reply and the journal),
        its d3cold_allowed off while owned and back after, and back on e1000e with its
        interface; one whose reset method the device does not offer is quarantined on
        vfio-pci, refuses assign with Quarantined, stays so across a restart, and goes home
        with release --from-quarantine."""
        offered = attribute(nic, "reset_method").split()
        vm.log(f"{nic} offers the reset methods {offered}")
        vm.check(offered, f"{nic} offers no reset method")
        good, bad = offered[0], next(m for m in RESET_METHODS if m not in offered)
        os.makedirs("/run/reset", exist_ok=True)
        with open("/run/reset/10-nic.json", "w") as f:
                json.dump({"rules": [
                        {"id": "clean", "match": {"address": nic}, "guests": ["win11"],
                         "action": "allow",
                         "options": {"reset_method": good, "disable_d3cold": True}},
                        {"id": "dirty", "match": {"address": nic}, "guests": ["lab"],
                         "action": "allow", "options": {"reset_method": bad}}]}, f)
        vm.processes["iommud"][0].terminate()
        vm.processes["iommud"][0].wait(timeout=30)
        vm.start_daemon("--policy-dir=/run/reset")
        group = vm.iommuctl_json("show", nic)["group"]["id"]
        d3cold = attribute(nic, "d3cold_allowed")

        vm.show(["iommuctl", "assign", "win11", nic])
        vm.check(attribute(nic, "d3cold_allowed") == "0",
                 f"d3cold_allowed is {attribute(nic, 'd3cold_allowed')} while win11 owns {nic}")
        shown = vm.iommuctl_json("show", nic)["device"]
        vm.check(shown["reset_method"] == good, f"show says the release resets with "
                 f"{shown['reset_method']}, not {good}")
        plan = vm.iommuctl_json("release", "win11")["plan"]
        vm.log(f"release: {plan}")
        vm.check([(r["address"], r["reset"], r["quarantine"]) for r in plan] ==
                 [(nic, {"method": good, "result": "ok"}, None)],
                 f"the release's plan does not say {nic} was reset with {good}: {plan}")
        resets = {r["address"]: r for r in journal().get("resets", [])}
        vm.check(resets.get(nic) == {"address": nic, "method": good, "result": "ok"},
                 f"the journal does not record the reset: {journal()}")
        vm.check(attribute(nic, "reset_method").split() == offered,
                 f"reset_method is {attribute(nic, 'reset_method')} after the reset, not "
                 f"{offered}")
        vm.check(attribute(nic, "d3cold_allowed") == d3cold,
                 f"d3cold_allowed is {attribute(nic, 'd3cold_allowed')} after release, not "
                 f"{d3cold}")
        vm.check(driver(nic) == "e1000e", f"{nic} is on {driver(nic)} after the reset")
        vm.wait_for(f"e1000e to make {nic}'s interface again",
                    lambda: os.listdir(f"/sys/bus/pci/devices/{nic}/net"), timeout=90)

        # A method the device does not offer: the group stays on vfio-pci, quarantined.
        vm.show(["iommuctl", "assign", "lab", nic])
        plan = vm.iommuctl_json("release", "lab")["plan"]
        vm.log(f"release: {plan}")
        vm.check(plan[0]["reset"]["method"] == bad and plan[0]["reset"]["result"] != "ok" and
                 plan[0]["quarantine"], f"the failed reset did not quarantine {nic}: {plan}")
        for restarted in (False, True):
                vm.check(driver(nic) == "vfio-pci",
                         f"quarantined {nic} is on {driver(nic)}, not vfio-pci")
                listed = {g["id"]: g for g in iommud_listing(vm)["groups"]}
                vm.check(listed[group]["state"] == "quarantined" and not listed[group]["owner"],
                         f"group {group} is {listed[group]} (restarted: {restarted})")
                refused(vm, ["assign", "win11", nic], "(Quarantined)",
                        ["--from-quarantine"], [nic])
                vm.processes["iommud"][0].terminate()
                vm.processes["iommud"][0].wait(timeout=30)
                vm.start_daemon("--policy-dir=/run/reset")
        plan = vm.iommuctl_json("release", "--from-quarantine", nic)["plan"]
        vm.log(f"release --from-quarantine: {plan}")
        vm.check(plan[0]["reset"] == {"method": "default", "result": "ok"},
                 f"the administrator's release did not reset {nic}: {plan}")
        vm.check(driver(nic) == "e1000e", f"{nic} is on {driver(nic)} after "
                 "release --from-quarantine")
        vm.check(not journal().get("quarantined"), f"the journal keeps a quarantine: {journal()}")
        vm.processes["iommud"][0].terminate()
        vm.processes["iommud"][0].wait(timeout=30)
        vm.start_daemon()


def run(vm):
        display, audio = vm.address_of("display"), vm.address_of("audio")
        nvme, lan1 = vm.address_of("nvme0"), vm.address_of("lan1")
        rp_nvme = vm.address_of("rp-nvme")
        pair = [display, audio]
        home = snapshot(pair)
        vm.check(all(d and d != "vfio-pci" for d, _ in home.values()),
                 f"the display and audio functions start on host drivers, not {home}")
        vm.start_daemon()
        group = vm.iommuctl_json("show", display)["group"]["id"]

        # The dry run names the peer and changes nothing (forced, as the real call must be:
        # the display drives the console, below).
        plan = vm.iommuctl_json("--force", "--dry-run", "assign", "win11", display)
        rows = {row["address"]: row for row in plan["plan"]}
        vm.check(plan["dry_run"] and sorted(rows) == sorted(pair),
                 f"the dry-run plan covers {sorted(rows)}, not {pair}")
        vm.check(rows[audio]["reason"] == {"kind": "peer", "of": display} and
                 rows[display]["reason"]["kind"] == "named",
                 f"the plan does not say the audio function comes along: {rows}")
        vm.check(snapshot(pair) == home, "a dry run changed sysfs")

        # The display drives the guest's console (fbcon on fb0): refused until an administrator
        # forces it.
        refused(vm, ["assign", "win11", display], "(InUse)", ["drives the console"], pair)
        refused(vm, ["--dry-run", "assign", "win11", display], "(InUse)", ["drives the console"],
                pair)

        # Assign: both functions on vfio-pci, the group's node there, the owner listed.
        vm.show(["iommuctl", "--force", "assign", "win11", display])
        for a in pair:
                vm.check(driver(a) == "vfio-pci", f"{a} is on {driver(a)} after assign, not "
                         "vfio-pci")
        vm.check(os.path.exists(f"/dev/vfio/{group}"), f"/dev/vfio/{group} is missing")
        listed = {g["id"]: g for g in iommud_listing(vm)["groups"]}
        vm.check(listed[group]["owner"] == "win11" and listed[group]["state"] == "assigned",
                 f"iommuctl list shows group {group} as {listed[group]}")
        vm.check("win11" in vm.iommuctl("list"), "the table does not show the owner win11")
        claims = {c["group"]: c for c in journal()["claims"]}
        vm.check(claims.get(group, {}).get("owner") == "win11",
                 f"the journal does not record win11's claim: {journal()}")

        # Taken by win11: another guest is refused, and so is rebinding by hand.
        refused(vm, ["assign", "linux", audio], "(Owned)", ["owned by 'win11'"], pair)
        refused(vm, ["rebind", audio, "snd_hda_intel"], "(Owned)", ["release it first"], pair)

        # Release: both back on the drivers they had, overrides cleared.
        vm.show(["iommuctl", "release", "win11"])
        vm.check(snapshot(pair) == home, f"after release {snapshot(pair)}, not {home}")
        vm.check(not journal()["claims"], f"the journal still has claims: {journal()}")

        # The NVMe holds the mounted /mnt/data: refused, naming the mount, nothing changed.
        refused(vm, ["assign", "win11", nvme], "(InUse)", ["is mounted at /mnt/data"], [nvme])
        # A dry run answers exactly what the real call does: the same refusal, word for word.
        for args in (["assign", "win11", nvme], ["rebind", nvme, "vfio-pci"]):
                real = vm.run(["iommuctl", *args], check=False, quiet=True)
                dry = vm.run(["iommuctl", "--dry-run", *args], check=False, quiet=True)
                vm.log(f"$ iommuctl [--dry-run] {' '.join(args)} -> {real.returncode} "
                       f"{real.stderr.strip()!r} / {dry.returncode} {dry.stderr.strip()!r}")
                vm.check((dry.returncode, dry.stderr, dry.stdout) ==
                         (real.returncode, real.stderr, real.stdout) and real.returncode == 1,
                         f"iommuctl --dry-run {' '.join(args)} answered {dry.returncode} "
                         f"{dry.stderr!r}, the real call {real.returncode} {real.stderr!r}")

        # Bad input: each gives its named error and changes nothing.
        watched = pair + [nvme, lan1]
        refused(vm, ["assign", "win11", "0000:00:1f.7"], "(NotFound)", ["no PCI device"], watched)
        refused(vm, ["assign", "win11", "00:99.0"], "(InvalidArgument)",
                ["is not a PCI address"], watched)
        refused(vm, ["assign", "", lan1], "(InvalidArgument)", ["empty"], watched)
        refused(vm, ["assign", "a/b", lan1], "(InvalidArgument)", ["'/'"], watched)
        refused(vm, ["assign", "bad\x01name", lan1], "(InvalidArgument)", ["control character"],
                watched)
        refused(vm, ["assign", "win11", rp_nvme], "(NotViable)", ["holds only bridges"], watched)

        # Two guests ask for the same group at once: the requests are serialized, one wins, the
        # other is told who owns it.
        racers = [subprocess.Popen(["iommuctl", "assign", guest, lan1], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for guest in ("a", "b")]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in racers]
        vm.log(f"two assigns of {lan1} at once: {results}")
        winners = [i for i, (status, _) in enumerate(results) if status == 0]
        vm.check(len(winners) == 1, f"{len(winners)} of two racing assigns succeeded: {results}")
        loser = results[1 - winners[0]]
        vm.check(loser[0] == 1 and "(Owned)" in loser[1], f"the losing assign said {loser}")
        vm.check(driver(lan1) == "vfio-pci", f"{lan1} is on {driver(lan1)} after the race")
        vm.show(["iommuctl", "release", "ab"[winners[0]]])
        vm.check(driver(lan1) == "e1000e", f"{lan1} is on {driver(lan1)} after release")

        # Rebind: an empty driver is a usage error; a driver that does not exist is refused
        # before anything moves, dry run or not; a driver that rejects the device (pcieport
        # binds only to ports) puts it back on e1000e, override cleared, no intent left.
        before = snapshot([lan1])
        empty = vm.run(["iommuctl", "rebind", lan1, ""], check=False, quiet=True)
        vm.check(empty.returncode == 2 and "write 'none'" in empty.stderr,
                 f"iommuctl rebind {lan1} '' said {empty.returncode} {empty.stderr!r}")
        for dry in ([], ["--dry-run"]):
                refused(vm, [*dry, "rebind", lan1, "nosuchdriver"], "(NotFound)",
                        ["no driver 'nosuchdriver'"], [lan1])
        refused(vm, ["rebind", lan1, "pcieport"], "(Failed)", ["pcieport did not bind it"],
                [lan1])
        vm.check(snapshot([lan1]) == before == {lan1: ("e1000e", None)},
                 f"{lan1} is {snapshot([lan1])} after a rebind that failed, not {before}")
        vm.check(not journal()["intents"], f"a failed rebind left an intent: {journal()}")
        # 'none' unbinds it and leaves it so; a rebind brings it back.
        vm.show(["iommuctl", "rebind", lan1, "none"])
        vm.check(snapshot([lan1]) == {lan1: (None, "none")},
                 f"{lan1} is {snapshot([lan1])} after rebind none, not unbound with the "
                 "override 'none'")
        vm.show(["iommuctl", "rebind", lan1, "e1000e"])
        vm.check(driver(lan1) == "e1000e", f"{lan1} is on {driver(lan1)} after rebind e1000e")
        with open(f"/sys/bus/pci/devices/{lan1}/driver_override", "w") as f:
                f.write("\n")  # as the test found it, for the autobind below

        # A crash at each step of an assign: the next start puts the group back home, whole.
        for point in ("after-override", "after-unbind", "before-commit"):
                vm.processes["iommud"][0].terminate()
                vm.processes["iommud"][0].wait(timeout=30)
                vm.start_daemon(env={"IOMMUD_TEST_CRASH_AT": point})
                result = vm.run(["iommuctl", "--force", "assign", "win11", display], check=False,
                                quiet=True)
                vm.check(result.returncode != 0, f"assign succeeded although iommud was to die "
                         f"at {point}")
                status = vm.processes["iommud"][0].wait(timeout=60)
                vm.check(status == -9, f"iommud exited with {status} at {point}, not SIGKILL")
                vm.check(journal()["intents"], f"no intent was journaled before {point}")
                vm.start_daemon()
                now = snapshot(pair)
                state = journal()
                vm.log(f"after a crash at {point} and a restart: {now}; journal {state}")
                vm.check(not state["intents"], f"intents left after recovery: {state}")
                vm.check(now == home and not state["claims"],
                         f"after a crash at {point}: {now} with claims {state['claims']}, "
                         f"not home {home} without a claim")

        between_owners(vm, lan1)

        # An autobind rule puts its device on vfio-pci when the daemon starts (lan1), and
        # leaves a device the host uses where it is (lan0 carries the network).
        lan0 = vm.address_of("lan0")
        os.makedirs("/run/autobind", exist_ok=True)
        with open("/run/autobind/10-nics.json", "w") as f:
                json.dump({"rules": [{"id": "nics-for-vfio", "match": {"vendor": "8086",
                                                                         "device": "10d3"},
                                      "guests": ["*"], "action": "allow",
                                      "options": {"autobind": True}}]}, f)
        vm.processes["iommud"][0].terminate()
        vm.processes["iommud"][0].wait(timeout=30)
        vm.check(driver(lan1) == "e1000e", f"{lan1} starts on {driver(lan1)}")
        vm.start_daemon("--policy-dir=/run/autobind")
        vm.wait_for(f"the autobind rule to put {lan1} on vfio-pci",
                    lambda: driver(lan1) == "vfio-pci", timeout=60)
        vm.check(driver(lan0) == "e1000e", f"autobind moved {lan0}, which carries the network")
        listed = {d["address"]: d for d in iommud_listing(vm)["devices"]}
        vm.check(listed[lan1]["driver"] == "vfio-pci" and
                 listed[lan1]["driver_override"] == "vfio-pci",
                 f"iommuctl list shows {lan1} as {listed[lan1]}")
