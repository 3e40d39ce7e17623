"""The OCR backends' implementation; the public interface is :mod:`hub.desktop.ocr`."""
