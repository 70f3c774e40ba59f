"""The monthly report for the residents' meeting (月月说事): the month's figures of one hut
or the district (figures.py, from storage/report_queries.py), the CSV and the PDFs drawn
from them, the kept copies and the send on the first of each month."""
