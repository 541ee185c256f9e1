"""Define-XML 2.0 (ODM 1.3.2) describing sdtm/tu.xpt, tr.xpt and rs.xpt, written with lxml (pure, no Django).

Input: the datasets of `sdtm.build_datasets` and the STUDYID; `define_xml(datasets, ...)`
returns the document as UTF-8 bytes. Everything comes from the shared variable metadata of
`sdtm.py` and from the data itself, so define.xml cannot drift from the XPT files:

- one ItemGroupDef per dataset (name, label, structure, class, keys as KeySequence, the
  Mandatory flag from the SDTM core: Req -> Yes) with its def:leaf pointing at `<name>.xpt`;
- one ItemDef per dataset variable (OID IT.<DATASET>.<VARIABLE>) with the label, DataType,
  Length (the longest value, as the XPT file stores it; float VISITNUM/TRSTRESN get
  SignificantDigits from the data), SASFieldName and def:Origin;
- one CodeList per controlled variable group listing exactly the terms the data uses, as
  EnumeratedItems (no NCI codes are claimed);
- MethodDefs for the derived variables (USUBJID, --SEQ, --DY, link IDs, TRSTRESN, --ACPTFL,
  responses), referenced from the ItemRefs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from lxml import etree

from .sdtm import CODELIST_NAMES, METHODS, Dataset, Variable

__all__ = ["DEF_NS", "ODM_NS", "XLINK_NS", "define_xml"]

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
_NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}


def _odm(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _def(tag: str) -> str:
    return f"{{{DEF_NS}}}{tag}"


def _description(parent: etree._Element, text: str) -> None:
    description = etree.SubElement(parent, _odm("Description"))
    translated = etree.SubElement(description, _odm("TranslatedText"))
    translated.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    translated.text = text


def _significant_digits(dataset: Dataset, variable: Variable) -> int:
    digits = 0
    for value in dataset.values(variable.name):
        if value is None:
            continue
        exponent = Decimal(str(value)).normalize().as_tuple().exponent
        if isinstance(exponent, int):
            digits = max(digits, -exponent)
    return digits


def _data_type(dataset: Dataset, variable: Variable) -> str:
    if variable.data_type == "float" and _significant_digits(dataset, variable) == 0:
        # Every value is whole (VISITNUM 1, 2, ...; diameters in whole mm): say integer, as the data is.
        return "integer"
    return variable.data_type


def define_xml(
    datasets: Mapping[str, Dataset],
    *,
    studyid: str,
    created_at: datetime,
    originator: str = "ICTMS",
    source_system_version: str = "",
) -> bytes:
    """The Define-XML 2.0 document for the given datasets (their XPT files sit beside it)."""
    odm = etree.Element(_odm("ODM"), nsmap=_NSMAP)
    odm.set("FileType", "Snapshot")
    odm.set("FileOID", f"DEFINE.{studyid}.BICR")
    odm.set("ODMVersion", "1.3.2")
    odm.set("CreationDateTime", created_at.replace(microsecond=0).isoformat())
    odm.set("Originator", originator)
    odm.set("SourceSystem", "ICTMS")
    if source_system_version:
        odm.set("SourceSystemVersion", source_system_version)
    study = etree.SubElement(odm, _odm("Study"), OID=f"STUDY.{studyid}")
    global_variables = etree.SubElement(study, _odm("GlobalVariables"))
    etree.SubElement(global_variables, _odm("StudyName")).text = studyid
    etree.SubElement(global_variables, _odm("StudyDescription")).text = (
        f"{studyid}: blinded independent central review, RECIST 1.1 tumor assessments"
    )
    etree.SubElement(global_variables, _odm("ProtocolName")).text = studyid
    mdv = etree.SubElement(study, _odm("MetaDataVersion"))
    mdv.set("OID", f"MDV.{studyid}.SDTMIG.3.4")
    mdv.set("Name", f"{studyid} SDTM BICR tumor datasets")
    mdv.set("Description", "TU, TR and RS from the independent assessors' final reads")
    mdv.set(_def("DefineVersion"), "2.0.0")
    mdv.set(_def("StandardName"), "SDTM-IG")
    mdv.set(_def("StandardVersion"), "3.4")

    codelist_terms: dict[str, set[str]] = {}
    used_methods: set[str] = set()
    ordered = [datasets[name] for name in sorted(datasets, key=lambda n: ("TU", "TR", "RS").index(n) if n in ("TU", "TR", "RS") else 9)]

    for dataset in ordered:
        spec = dataset.spec
        group = etree.SubElement(mdv, _odm("ItemGroupDef"))
        group.set("OID", f"IG.{spec.name}")
        group.set("Name", spec.name)
        group.set("Repeating", "Yes")
        group.set("IsReferenceData", "No")
        group.set("SASDatasetName", spec.name)
        group.set("Domain", spec.name)
        group.set("Purpose", "Tabulation")
        group.set(_def("Structure"), spec.structure)
        group.set(_def("Class"), spec.class_)
        group.set(_def("ArchiveLocationID"), f"LF.{spec.name}")
        _description(group, spec.label)
        for order, variable in enumerate(spec.variables, start=1):
            ref = etree.SubElement(group, _odm("ItemRef"))
            ref.set("ItemOID", f"IT.{spec.name}.{variable.name}")
            ref.set("OrderNumber", str(order))
            ref.set("Mandatory", "Yes" if variable.core == "Req" else "No")
            if variable.name in spec.keys:
                ref.set("KeySequence", str(spec.keys.index(variable.name) + 1))
            if variable.method:
                ref.set("MethodOID", f"MT.{variable.method}")
                used_methods.add(variable.method)
        leaf = etree.SubElement(group, _def("leaf"), ID=f"LF.{spec.name}")
        leaf.set(f"{{{XLINK_NS}}}href", f"{spec.name.lower()}.xpt")
        etree.SubElement(leaf, _def("title")).text = f"{spec.name.lower()}.xpt"
        for variable in spec.variables:
            if variable.codelist:
                terms = {str(v) for v in dataset.values(variable.name) if v not in (None, "")}
                codelist_terms.setdefault(variable.codelist, set()).update(terms)

    for dataset in ordered:
        spec = dataset.spec
        for variable in spec.variables:
            item = etree.SubElement(mdv, _odm("ItemDef"))
            item.set("OID", f"IT.{spec.name}.{variable.name}")
            item.set("Name", variable.name)
            data_type = _data_type(dataset, variable)
            item.set("DataType", data_type)
            if data_type in ("text", "integer", "float"):
                item.set("Length", str(dataset.length(variable) if variable.type == "Char" else 8))
            if data_type == "float":
                item.set("SignificantDigits", str(_significant_digits(dataset, variable)))
            item.set("SASFieldName", variable.name)
            _description(item, variable.label)
            if variable.codelist and codelist_terms.get(variable.codelist):
                etree.SubElement(item, _odm("CodeListRef"), CodeListOID=f"CL.{variable.codelist}")
            etree.SubElement(item, _def("Origin"), Type=variable.origin)

    for key in sorted(codelist_terms):
        terms = codelist_terms[key]
        if not terms:
            continue
        codelist = etree.SubElement(mdv, _odm("CodeList"))
        codelist.set("OID", f"CL.{key}")
        codelist.set("Name", CODELIST_NAMES.get(key, key))
        codelist.set("DataType", "text")
        for order, term in enumerate(sorted(terms), start=1):
            etree.SubElement(codelist, _odm("EnumeratedItem"), CodedValue=term, OrderNumber=str(order))

    for key in sorted(used_methods):
        name, text = METHODS[key]
        method = etree.SubElement(mdv, _odm("MethodDef"))
        method.set("OID", f"MT.{key}")
        method.set("Name", name)
        method.set("Type", "Computation")
        _description(method, text)

    return etree.tostring(odm, xml_declaration=True, encoding="UTF-8", pretty_print=True)
