/* XML namespaces of the WS-Trust exchange (private to idp/wstrust*.c). */
#pragma once

#define NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define NS_ADDRESSING "http://www.w3.org/2005/08/addressing"
#define NS_WSU                                                               \
	"http://docs.oasis-open.org/wss/2004/01/"                            \
	"oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define NS_WSSE                                                              \
	"http://docs.oasis-open.org/wss/2004/01/"                            \
	"oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define NS_TRUST "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
#define NS_POLICY "http://schemas.xmlsoap.org/ws/2004/09/policy"
#define NS_SAML2 "urn:oasis:names:tc:SAML:2.0:assertion"
#define NS_SAML2P "urn:oasis:names:tc:SAML:2.0:protocol"
#define NS_SAML11 "urn:oasis:names:tc:SAML:1.0:assertion"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define NS_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
