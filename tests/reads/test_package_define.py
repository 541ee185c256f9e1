"""define.xml validates against the official Define-XML 2.0 XSD (shipped by odmlib) and describes the XPT files exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files

import pytest
from lxml import etree

from reads.package.define import DEF_NS, ODM_NS, XLINK_NS, define_xml
from reads.package.sdtm import build_datasets
from tests.reads.package_trial import STUDYID, build_trial

NS = {"odm": ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}


@pytest.fixture(scope="module")
def schema():
    # Define-XML 2.0.0 with its ODM 1.3.2 foundation, xlink and xmldsig imports, as CDISC publishes them.
    xsd = files("odmlib") / "schemas" / "define" / "2.0" / "define2-0-0.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


@pytest.fixture(scope="module")
def datasets():
    return build_datasets(build_trial()[0])


@pytest.fixture(scope="module")
def document(datasets):
    return etree.fromstring(define_xml(datasets, studyid=STUDYID, created_at=datetime(2024, 7, 2, 12, tzinfo=UTC)))


def test_define_xml_validates_against_the_define_xml_2_0_schema(schema, document):
    assert schema.validate(document), schema.error_log


def test_the_schema_rejects_a_define_xml_without_a_dataset_structure(schema, document):
    broken = etree.fromstring(etree.tostring(document))
    del broken.find(".//odm:ItemGroupDef", NS).attrib[f"{{{DEF_NS}}}Structure"]
    assert not schema.validate(broken)


def test_one_item_group_per_dataset_pointing_at_its_xpt_file(document):
    groups = document.findall(".//odm:ItemGroupDef", NS)
    assert [g.get("Name") for g in groups] == ["TU", "TR", "RS"]
    for group in groups:
        leaf = group.find("def:leaf", NS)
        assert leaf.get(f"{{{XLINK_NS}}}href") == f"{group.get('Name').lower()}.xpt"
        assert group.get(f"{{{DEF_NS}}}ArchiveLocationID") == leaf.get("ID")
    mdv = document.find(".//odm:MetaDataVersion", NS)
    assert (mdv.get(f"{{{DEF_NS}}}DefineVersion"), mdv.get(f"{{{DEF_NS}}}StandardVersion")) == ("2.0.0", "3.4")


def test_item_defs_carry_the_labels_and_the_lengths_the_xpt_files_store(datasets, document):
    for name, dataset in datasets.items():
        for variable in dataset.spec.variables:
            item = document.find(f".//odm:ItemDef[@OID='IT.{name}.{variable.name}']", NS)
            assert item.find("odm:Description/odm:TranslatedText", NS).text == variable.label
            assert item.get("SASFieldName") == variable.name
            if variable.type == "Char" and variable.data_type == "text":
                assert item.get("Length") == str(dataset.length(variable))
            assert item.find("def:Origin", NS).get("Type") == variable.origin
    assert document.find(".//odm:ItemDef[@OID='IT.TR.TRDTC']", NS).get("DataType") == "date"
    assert document.find(".//odm:ItemDef[@OID='IT.TR.TRSEQ']", NS).get("DataType") == "integer"


def test_code_lists_hold_exactly_the_controlled_terms_used(document):
    def terms(oid):
        return {e.get("CodedValue") for e in document.findall(f".//odm:CodeList[@OID='{oid}']/odm:EnumeratedItem", NS)}

    assert terms("CL.TRTESTCD") == {"LDIAM", "SAXIS", "SUMDIAM", "TUMSTATE"}
    assert terms("CL.RSTESTCD") == {"TRGRESP", "NTRGRESP", "NEWLPROG", "OVRLRESP"}
    assert terms("CL.TUORRES") == {"TARGET", "NON-TARGET", "NEW"}
    assert terms("CL.EVALID") == {"RADIOLOGIST 1", "RADIOLOGIST 2"}
    assert terms("CL.RSRESP") == {"CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD", "EQUIVOCAL", "UNEQUIVOCAL"}
    assert terms("CL.NY") == {"Y"}
    ref = document.find(".//odm:ItemDef[@OID='IT.TR.TRTESTCD']/odm:CodeListRef", NS)
    assert ref.get("CodeListOID") == "CL.TRTESTCD"


def test_derived_variables_reference_their_method(document):
    methods = {m.get("OID") for m in document.findall(".//odm:MethodDef", NS)}
    for ref in document.findall(".//odm:ItemRef[@MethodOID]", NS):
        assert ref.get("MethodOID") in methods
    seq = document.find(".//odm:ItemGroupDef[@Name='TR']/odm:ItemRef[@ItemOID='IT.TR.TRSTRESN']", NS)
    assert seq.get("MethodOID") == "MT.TRSTRESN"
