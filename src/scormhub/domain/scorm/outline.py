"""The manifest rules (P4-P11): check a parsed manifest and read its default organization's outline."""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree.ElementTree import Element

from scormhub.domain.scorm.findings import Findings, Outline, listing, show
from scormhub.domain.scorm.items import read_organization
from scormhub.domain.scorm.manifest import (
    ADLCP_NAMESPACES,
    CP_NAMESPACES,
    NS_ADLCP12,
    NS_CP12,
    SCHEMAVERSIONS,
    SCORM2004_ONLY_NAMESPACES,
    XML_BASE,
    element_text,
    split_tag,
)
from scormhub.domain.scorm.organization import CompletionThreshold, Item, ScormType
from scormhub.domain.scorm.package import Sco
from scormhub.domain.scorm.paths import href_problem, package_path
from scormhub.domain.scorm.sequencing.parse import check_sequencing

_MAX_LAUNCH_URL = 2000


# --- manifest rules (P4-P11) -------------------------------------------------------------------------
# P11 (XSD validation) is deliberately not done: it is a warning-only rule, real packages often fail it
# (cvc-elt.1), and validating would need an XSD engine (lxml/xmlschema) this framework-free domain
# doesn't carry. The structural rules below check what the player actually relies on.


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class ManifestReader:
    """P4-P10 for one parsed manifest, reading the default organization's outline into an `Outline`."""

    def __init__(self, root: Element, files: frozenset[str], findings: Findings) -> None:
        self.root = root
        self.files = files
        self.findings = findings
        self.cp = split_tag(root.tag)[0]
        self.outline = Outline()
        self.resources: dict[str, Element] = {}

    def q(self, local: str) -> str:
        return f"{{{self.cp}}}{local}"

    def read(self) -> Outline:
        if not self._is_manifest():
            return self.outline
        self._detect_version()
        if not self._check_structure():
            return self.outline
        organization = self._default_organization()
        if organization is None:
            return self.outline
        self.outline.title = element_text(organization.find(self.q("title"))) or None
        if self.outline.title is None:
            self.findings.warn(
                "P4-missing-title",
                "The default organization has no <title>, so the course has no name. Give it a title in "
                "your authoring tool, or set one by hand after import.",
            )
        self.outline.organization = read_organization(self, organization)
        launchables = self.outline.organization.launchables()
        self._choose_scos(launchables)
        self._check_launch_files([i for i in self.outline.organization.walk() if i.resource is not None])
        self._check_listed_files()
        self.outline.mastery_score = next(
            (score for item in launchables if (score := _mastery_percent(item)) is not None), None
        )
        if self.outline.standard == "scorm2004":
            check_sequencing(self.root, self.findings)  # IDRef loops (the tree reader reports unknown ones)
        return self.outline

    # P4: the root element and version (§1.1).

    def _is_manifest(self) -> bool:
        if self.root.tag in {f"{{{ns}}}manifest" for ns in CP_NAMESPACES}:
            return True
        namespace, local = split_tag(self.root.tag)
        where = f" in namespace '{namespace}'" if namespace else " with no namespace"
        self.findings.error(
            "P4-not-a-manifest",
            f"imsmanifest.xml doesn't describe a SCORM package: its top element is <{local}>{where}, not an "
            "IMS content-packaging <manifest>. Export the course again as SCORM 1.2 or 2004.",
        )
        return False

    def _detect_version(self) -> None:
        stated = element_text(self.root.find(f"{self.q('metadata')}/{self.q('schemaversion')}"))
        known = SCHEMAVERSIONS.get(" ".join(stated.split()).casefold())
        if known is not None:
            self.outline.standard, self.outline.edition = known
            return
        namespaces = {split_tag(el.tag)[0] for el in self.root.iter()}
        namespaces.update(split_tag(attr)[0] for el in self.root.iter() for attr in el.attrib)
        is_12 = NS_ADLCP12 in namespaces or (
            self.cp == NS_CP12 and not namespaces & SCORM2004_ONLY_NAMESPACES
        )
        self.outline.standard = "scorm12" if is_12 else "scorm2004"
        guessed = "SCORM 1.2" if is_12 else "SCORM 2004 (edition unknown)"
        said = f"says schemaversion {show(stated)}" if stated else "doesn't state its <schemaversion>"
        self.findings.warn(
            "P10-unknown-schemaversion",
            f"The manifest {said}, which isn't a SCORM version SCORM Hub knows; judging by its XML "
            f"namespaces it is {guessed}. If the course misbehaves, export it again choosing a specific "
            "SCORM version.",
        )

    def _check_structure(self) -> bool:
        counts = {name: len(self.root.findall(self.q(name))) for name in ("organizations", "resources")}
        for name, count in counts.items():
            if count != 1:
                self.findings.error(
                    "P4-manifest-structure",
                    f"imsmanifest.xml must have exactly one <{name}> section, but has {count}. "
                    "Export the course again from your authoring tool.",
                )
        self._check_metadata()
        self._check_identifiers()
        if any(count != 1 for count in counts.values()):
            return False
        resources = self.root.find(self.q("resources"))
        assert resources is not None  # counted above
        for resource in resources.findall(self.q("resource")):
            self.resources.setdefault(resource.get("identifier", ""), resource)
        return self._check_references()

    def _check_metadata(self) -> None:
        if self.root.find(self.q("metadata")) is not None:
            return
        if self.outline.standard == "scorm2004":
            self.findings.error(
                "P4-missing-metadata",
                "imsmanifest.xml has no <metadata> section, which SCORM 2004 requires (it names the SCORM "
                "version). Export the course again from your authoring tool.",
            )
        else:
            self.findings.warn(
                "P4-missing-metadata",
                "imsmanifest.xml has no <metadata> section naming its SCORM version; SCORM Hub treated it "
                "as SCORM 1.2.",
            )

    def _check_identifiers(self) -> None:
        seen: set[str] = set()
        duplicates: list[str] = []
        missing: list[str] = []
        for element in self.root.iter():
            namespace, local = split_tag(element.tag)
            # The manifest's own identifier may repeat an organization's: real 1.2 exports do that, and
            # nothing refers to a manifest by identifier, so it can't make a reference ambiguous.
            if namespace != self.cp or local not in {"organization", "item", "resource"}:
                continue
            identifier = element.get("identifier")
            if not identifier:
                missing.append(f"<{local}>")
            elif identifier in seen:
                duplicates.append(show(identifier))
            seen.add(identifier or "")
        if duplicates:
            self.findings.error(
                "P4-duplicate-identifier",
                f"Several parts of the manifest share the identifier {listing(duplicates)}; each must be "
                "unique. Fix the manifest or export the course again.",
            )
        if missing:
            self.findings.error(
                "P4-missing-identifier",
                f"Some manifest elements have no identifier ({listing(sorted(set(missing)))}). Every "
                "organization, item and resource needs one; export the course again.",
            )

    def _check_references(self) -> bool:
        broken: list[str] = []
        for element in self.root.iter():
            if element.tag not in {self.q("item"), self.q("dependency")}:
                continue
            reference = element.get("identifierref")
            if reference is not None and reference not in self.resources:
                owner = element.get("identifier") or "a dependency"
                broken.append(f"{show(owner)} → {show(reference)}")
        if broken:
            self.findings.error(
                "P4-unresolved-reference",
                f"Some items refer to resources the manifest doesn't define ({listing(broken)}). Fix the "
                "references in your authoring tool and export again.",
            )
        return not broken

    # P5: the default organization.

    def _default_organization(self) -> Element | None:
        organizations_el = self.root.find(self.q("organizations"))
        assert organizations_el is not None  # _check_structure ensured exactly one
        organizations = organizations_el.findall(self.q("organization"))
        default = organizations_el.get("default")
        for organization in organizations:
            if default and organization.get("identifier") == default:
                return organization
        if not organizations:
            self.findings.error(
                "P5-no-organization",
                "The manifest has no <organization>, so the course has no outline to show learners. "
                "Export the course again from your authoring tool.",
            )
            return None
        said = f"names {show(default)}, which doesn't exist" if default else "is missing"
        if self.outline.standard == "scorm2004":
            self.findings.error(
                "P5-default-organization",
                f"The manifest's default organization {said}; SCORM 2004 requires it to name one of its "
                "organizations. Fix the 'default' attribute of <organizations> or export again.",
            )
            return None
        self.findings.warn(
            "P5-default-organization",
            f"The manifest's default organization {said}, so SCORM Hub used the first one "
            f"({show(organizations[0].get('identifier', ''))}).",
        )
        return organizations[0]

    # P6: what learners can launch.

    def scorm_type(self, resource: Element) -> ScormType:
        """P6: 'sco' or 'asset'. Case variants are accepted with a warning; a missing type means asset."""
        canonical = "scormtype" if self.outline.standard == "scorm12" else "scormType"
        for attribute, value in resource.attrib.items():
            namespace, local = split_tag(attribute)
            if local.casefold() != "scormtype" or namespace not in ADLCP_NAMESPACES | {""}:
                continue
            kind = value.strip().casefold()
            if local != canonical or value != kind or namespace == "":
                self.findings.warn(
                    "P6-scormtype-spelling",
                    f"Resource {show(resource.get('identifier', ''))} writes its type as "
                    f'{local}="{value}" instead of adlcp:{canonical}="{kind}". SCORM Hub accepted it; '
                    "stricter systems may not.",
                )
            return "sco" if kind == "sco" else "asset"
        return "asset"

    def _choose_scos(self, launchables: Sequence[Item]) -> None:
        scos = [item for item in launchables if item.scorm_type == "sco"]
        if scos and not any(item.visible for item in scos):
            message = (
                'Every lesson (SCO) in the course outline is hidden (isvisible="false"), so learners '
                "would have nothing to choose from"
            )
            if self.outline.standard == "scorm2004":
                # Sequencing (flow) can still deliver hidden activities one after the other.
                self.findings.warn(
                    "P6-no-visible-sco", message + "; only the course's own flow reaches them."
                )
            else:
                self.findings.error(
                    "P6-no-visible-sco", message + ". Make at least one visible and export again."
                )
        elif not scos and launchables:
            self.findings.warn(
                "P6-asset-only",
                "This package has no SCOs, only plain web pages (assets). It can be launched, but it never "
                "reports progress or scores, so completion can't be tracked.",
            )
        elif not scos:
            self.findings.error(
                "P6-nothing-to-launch",
                "The course outline has no item that launches anything. Export the course again; each "
                "lesson must point at a resource.",
            )
        # Assets are launchable too: the player opens them and counts them as visited.
        self.outline.scos = tuple(sco_of(item) for item in launchables)

    # P7/P8: launch URLs.

    def base(self, resource: Element) -> str:
        resources = self.root.find(self.q("resources"))
        parts = [el.get(XML_BASE) for el in (self.root, resources, resource) if el is not None]
        base = ""
        for part in parts:
            if not part:
                continue
            if not part.endswith("/"):
                self.findings.warn(
                    "P7-xml-base-slash",
                    f"xml:base {show(part)} doesn't end with '/'; SCORM Hub treated it as a folder.",
                )
                part += "/"
            base += part.replace("\\", "/")
        return base

    def launch_ref(self, resource: Element) -> str | None:
        href = resource.get("href")
        if not href or not href.strip():
            return None
        if "\\" in href:
            self.findings.warn(
                "P7-backslash-href",
                f"The launch address {show(href)} uses '\\'; SCORM Hub read it as '/'.",
            )
        return self.base(resource) + href.strip().replace("\\", "/")

    def _check_launch_files(self, launchables: Sequence[Item]) -> None:
        checked: set[str] = set()
        for entry in launchables:
            reference = self.launch_ref(self.resources[entry.resource or ""])
            if reference is None:
                self.findings.error(
                    "P8-no-launch-file",
                    f"The resource behind {show(entry.title)} doesn't name a file to launch (no href). "
                    "Fix the resource in your authoring tool and export again.",
                )
                continue
            if reference in checked:
                continue
            checked.add(reference)
            if self._launch_address_ok(reference, entry.title):
                self._check_launch_file_exists(reference, entry.title)

    def _launch_address_ok(self, reference: str, title: str) -> bool:
        problem = href_problem(reference)
        if problem is not None:
            code, why = problem
            self.findings.error(code, f"{show(title)} launches {show(reference)}: {why}")
            return False
        if len(reference) > _MAX_LAUNCH_URL:
            self.findings.warn(
                "P7-long-launch-url",
                f"The launch address of {show(title)} is {len(reference)} characters long; some browsers "
                f"and servers cut addresses beyond {_MAX_LAUNCH_URL}.",
            )
        return True

    def _check_launch_file_exists(self, reference: str, title: str) -> None:
        path = package_path(reference)
        if path is None:
            self.findings.error(
                "P8-launch-outside-package",
                f"The launch file of {show(title)} ({show(reference)}) points outside the package. "
                "Launch files must be inside the zip; fix the href in the manifest.",
            )
        elif path not in self.files:
            twin = next((f for f in sorted(self.files) if f.casefold() == path.casefold()), None)
            if twin is not None:
                self.findings.error(
                    "P8-launch-case-mismatch",
                    f"The manifest launches {show(path)} for {show(title)}, but the zip only has "
                    f"{show(twin)}. The names differ in upper/lower case: that works on Windows and macOS "
                    "but fails on SCORM Hub's servers. Rename the file or fix the manifest so they match "
                    "exactly.",
                )
            else:
                self.findings.error(
                    "P8-launch-file-missing",
                    f"The launch file {show(path)} for {show(title)} isn't in the zip. Add it, or correct "
                    "the href in the manifest.",
                )

    # P9: files listed by resources.

    def _check_listed_files(self) -> None:
        missing: list[str] = []
        for resource in self.resources.values():
            base = self.base(resource)
            for listed in resource.findall(self.q("file")):
                href = (listed.get("href") or "").strip().replace("\\", "/")
                if not href or href_problem(base + href) is not None:
                    continue
                path = package_path(base + href)
                if path is None or path not in self.files:
                    missing.append(show(path or href))
        if missing:
            self.findings.warn(
                "P9-listed-file-missing",
                f"The manifest lists files that aren't in the zip: {listing(sorted(set(missing)))}. The "
                "course may still work, but pages or images that use them will be broken.",
            )

    # P10: mastery and completion values.

    def in_range(
        self,
        text: str,
        bounds: tuple[float, float],
        what: str,
        consequence: str = "SCORM Hub ignores it, so the lesson decides pass/fail on its own.",
        *,
        code: str = "P10-out-of-range",
    ) -> float | None:
        value = _number(text)
        low, high = bounds
        if value is not None and low <= value <= high:
            return value
        self.findings.warn(
            code,
            f"{what} is {show(text)}, but must be a number from {low:g} to {high:g}. {consequence}",
        )
        return None


def _mastery_percent(item: Item) -> float | None:
    """One scale for both standards: 1.2 masteryscore as is, 2004 scaled passing score times 100."""
    if item.scorm_type != "sco":
        return None
    if item.mastery_score is not None:
        return item.mastery_score
    scaled = item.scaled_passing_score
    return None if scaled is None else round(scaled * 100, 6)


def sco_of(item: Item) -> Sco:
    """The launch record a course keeps for one launchable item (see Sco)."""
    threshold = item.completion_threshold
    return Sco(
        identifier=item.identifier,
        title=item.title,
        launch=item.launch or "",
        scorm_type=item.scorm_type or "asset",
        visible=item.visible,
        data_from_lms=item.data_from_lms,
        mastery_score=item.mastery_score,
        max_time_allowed=item.max_time_allowed,
        time_limit_action=item.time_limit_action,
        completion_threshold=_threshold_value(threshold),
        scaled_passing_score=item.scaled_passing_score,
        objective_ids=tuple(o.identifier for o in item.objectives if o.identifier),
    )


def _threshold_value(threshold: CompletionThreshold | None) -> float | None:
    """cmi.completion_threshold: 3rd Ed's value, or 4th Ed's minProgressMeasure (1.0 by default) when
    completedByMeasure is true; None when completion is not decided by measure."""
    if threshold is None or not threshold.completed_by_measure:
        return None
    return 1.0 if threshold.min_progress_measure is None else threshold.min_progress_measure
